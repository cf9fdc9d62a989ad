#!/usr/bin/env bash
# The evaluation set's synthesizer: fluidsynth and a General MIDI soundfont, from the distribution's
# packages (`make evaluate` renders MIDI through them). Installs them with apt-get on Debian-like
# systems when missing (as root, or through sudo); elsewhere it says what to install and fails.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
soundfont() { [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ -e /usr/share/sounds/sf2/default-GM.sf2 ]; }

if have fluidsynth && soundfont; then
  exit 0
fi
if ! have apt-get; then
  echo "install fluidsynth and a General MIDI soundfont (fluid-soundfont-gm) for make evaluate" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif have sudo && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "make evaluate needs fluidsynth: run 'sudo apt-get install fluidsynth fluid-soundfont-gm'" >&2
  exit 1
fi
echo "installing fluidsynth and fluid-soundfont-gm (apt-get) for the evaluation set"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm >/dev/null
