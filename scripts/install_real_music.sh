#!/usr/bin/env bash
# The real-music evaluation set (measurement/real_music.tsv): recordings from Debian's packages under
# free licences (game soundtracks, instrument samples, voice packs), fetched with `apt-get download` (no
# root needed) at the pinned versions, unpacked with dpkg-deb, and only the listed files kept, each
# checked against its sha256, under build/real-music/<package>/<path>. The audio is not committed.
# Idempotent: a file already there with the right checksum is not fetched again.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
list="$root/measurement/real_music.tsv"
dest="$root/build/real-music"
have() { command -v "$1" >/dev/null 2>&1; }
for tool in apt-get dpkg-deb sha256sum; do
  have "$tool" || { echo "the real-music set needs $tool (a Debian-like system)" >&2; exit 1; }
done

rows() { grep -v '^#' "$list" | tail -n +2; }
ok() { [ -f "$dest/$1/$2" ] && [ "$(sha256sum "$dest/$1/$2" | cut -d' ' -f1)" = "$3" ]; }

missing=""
while IFS=$'\t' read -r _ _ package version _ path _ _ sha; do
  ok "$package" "$path" "$sha" || missing="$missing $package=$version"
done < <(rows)
[ -z "$missing" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sandbox=""  # as root, apt downloads as _apt, which may not write into our temporary folder
[ "$(id -u)" -eq 0 ] && sandbox="-o APT::Sandbox::User=root"
for spec in $(printf '%s\n' $missing | sort -u); do
  echo "fetching $spec (apt-get download) for the real-music evaluation set"
  # shellcheck disable=SC2086  # $sandbox: none or one option, two words
  if ! (cd "$work" && apt-get download -q $sandbox "$spec" >/dev/null); then
    echo "apt-get download $spec failed: that version may have left the archive (apt-cache policy ${spec%%=*});" \
      "measurement/real_music.tsv pins it with its files' sha256" >&2
    exit 1
  fi
  package="${spec%%=*}"
  mkdir -p "$work/x-$package"
  dpkg-deb -x "$work/${package}_"*.deb "$work/x-$package"
  while IFS=$'\t' read -r _ _ p _ _ path _ _ sha; do
    [ "$p" = "$package" ] || continue
    [ -f "$work/x-$package/$path" ] || { echo "$package has no $path" >&2; exit 1; }
    mkdir -p "$(dirname "$dest/$p/$path")"
    cp "$work/x-$package/$path" "$dest/$p/$path"
    ok "$p" "$path" "$sha" || { echo "$p/$path: sha256 differs from measurement/real_music.tsv" >&2; exit 1; }
  done < <(rows)
  rm -rf "$work/x-$package" "$work/${package}_"*.deb
done
echo "real-music set in $dest"
