#!/usr/bin/env bash
# Runs facesim on public group photos: a photo against a smaller, re-encoded copy of
# itself (same person, so the score should be high), and two photos of different people
# (score near 0).
#
# Usage: scripts/demo.sh [--cli PATH] [--data DIR]
#   --cli   the facesim program (default: $FACESIM_CLI, else build/facesim)
#   --data  folder for the demo photos (default: build/demo-data)
#
# The photos are the demo images of the npm package @vladmandic/face-api 1.7.15 (MIT
# licence): demo/sample1.jpg ... sample6.jpg, 1920 pixels wide, 3 to 5 faces each.
# facesim compares the largest face of each photo. The tarball's sha256 is checked
# before anything is extracted.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cli=${FACESIM_CLI:-$root/build/facesim}
data=$root/build/demo-data

while [ $# -gt 0 ]; do
  case $1 in
    --cli) cli=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "demo: error: unknown argument $1; see --help" >&2; exit 2 ;;
  esac
done

package=@vladmandic/face-api
version=1.7.15
tarball_sha256=0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031
photos=(sample1.jpg sample2.jpg sample3.jpg sample4.jpg sample5.jpg sample6.jpg)

if [ ! -x "$cli" ]; then
  echo "demo: error: the facesim program $cli was not found." >&2
  echo "demo: build it with 'make build' (or cmake --build build), or pass --cli PATH." >&2
  exit 1
fi
for tool in npm ffmpeg sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "demo: error: $tool not found; run scripts/install-deps.sh" >&2
    exit 1
  }
done

photos_present() {
  local photo
  for photo in "${photos[@]}"; do
    [ -s "$data/$photo" ] || return 1
  done
}

if ! photos_present; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "demo: downloading $package@$version with npm pack"
  tarball_name=$(cd "$work" && npm pack --silent "$package@$version" | tail -n 1)
  actual=$(sha256sum "$work/$tarball_name" | cut -d' ' -f1)
  if [ "$actual" != "$tarball_sha256" ]; then
    echo "demo: error: $tarball_name has sha256 $actual, expected $tarball_sha256;" \
      "the registry served different contents for $package@$version" >&2
    exit 1
  fi
  members=()
  for photo in "${photos[@]}"; do
    members+=("package/demo/$photo")
  done
  tar -xzf "$work/$tarball_name" -C "$work" "${members[@]}"
  mkdir -p "$data"
  for photo in "${photos[@]}"; do
    mv "$work/package/demo/$photo" "$data/$photo"
  done
  echo "demo: wrote ${photos[*]} to $data"
fi

# The copy: 75% of the width and height (rounded down to even numbers), re-encoded as
# JPEG. ffmpeg's MJPEG encoder has no 0-100 quality setting: -q:v 3 gives about the
# file size of libjpeg quality 80 on sample1.jpg (111 kB against 120 kB).
original=$data/sample1.jpg
copy=$data/sample1-75pct-q80.jpg
ffmpeg -loglevel error -y -i "$original" -vf 'scale=trunc(iw*3/8)*2:trunc(ih*3/8)*2' \
  -q:v 3 -pix_fmt yuvj420p "$copy"

status=0
echo
echo "== Same photo: sample1.jpg against a 75% copy re-encoded as JPEG (expect a high score)"
"$cli" compare "$original" "$copy" || status=$?
echo
echo "== Different people: sample1.jpg against sample6.jpg (expect a score near 0)"
"$cli" compare "$original" "$data/sample6.jpg" || status=$?
exit "$status"
