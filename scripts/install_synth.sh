#!/usr/bin/env bash
# The synthesizers our ground truth is built with, from the distribution's packages: fluidsynth and a
# General MIDI soundfont (`make evaluate` renders MIDI through them), espeak-ng (speech at known
# times for the VAD tests and bench) and the ffmpeg command (the reference, Basic Pitch 0.4.0 as its
# users run it, decodes M4A and WebM through librosa -> audioread -> ffmpeg: `make evaluate`'s formats). `install_synth.sh speech` installs espeak-ng alone (what
# `make test` needs). Installs with apt-get on Debian-like systems when missing (as root, or through
# sudo); elsewhere it says what to install and fails.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
soundfont() { [ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ -e /usr/share/sounds/sf2/default-GM.sf2 ]; }

if [ "${1:-all}" = "speech" ]; then
  packages="espeak-ng"
  have espeak-ng && exit 0
else
  packages="fluidsynth fluid-soundfont-gm espeak-ng ffmpeg"
  have fluidsynth && soundfont && have espeak-ng && have ffmpeg && exit 0
fi
if ! have apt-get; then
  echo "install these (Debian package names): $packages" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif have sudo && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "run 'sudo apt-get install $packages'" >&2
  exit 1
fi
echo "installing $packages (apt-get) for the evaluation sets"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086  # one word per package
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
