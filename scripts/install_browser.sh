#!/usr/bin/env bash
# The browser test's Chromium and its driver, from the distribution's packages (no browser download).
# Installs them with apt-get on Debian-like systems when missing (as root, or through sudo); elsewhere
# it says what to install, and the browser test skips (under CI it fails: tests/support/components.py).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
browser() { have chromium || have chromium-browser; }

if browser && have chromedriver; then
  exit 0
fi
if ! have apt-get; then
  echo "install Chromium and chromedriver with your package manager for the browser test" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif have sudo && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "the browser test needs Chromium: run 'sudo apt-get install chromium chromium-driver'" >&2
  exit 0
fi
echo "installing chromium and chromium-driver (apt-get) for the browser test"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
