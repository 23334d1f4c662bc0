#!/usr/bin/env bash
# Fetches facesim's default model pack into DIR (default: models/default under the
# repository root).
#
# The three networks come from the npm package faceplugin-face-recognition-js 0.0.1
# (MIT licence): fr_detect.onnx (face detector), fr_landmark.onnx (68-point landmarks)
# and fr_feature.onnx (512-d face embedding). The script packs the package with npm into
# a temporary folder, checks the tarball's sha256, extracts only those three files and
# checks each of them. A DIR whose files already match the recorded checksums is left
# as it is. docs/models.md describes the files.
set -euo pipefail

package=faceplugin-face-recognition-js
version=0.0.1
tarball_sha256=7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba
# sha256 of each model file inside that tarball.
declare -A model_sha256=(
  [fr_detect.onnx]=6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854
  [fr_landmark.onnx]=f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258
  [fr_feature.onnx]=87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581
)
models=(fr_detect.onnx fr_landmark.onnx fr_feature.onnx)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$root/models/default}

models_verified() {
  local model
  for model in "${models[@]}"; do
    [ -f "$dir/$model" ] || return 1
    [ "$(sha256sum "$dir/$model" | cut -d' ' -f1)" = "${model_sha256[$model]}" ] || return 1
  done
  [ -f "$dir/SOURCE.txt" ]
}

if models_verified; then
  echo "fetch-models: $dir already contains the verified $package $version models"
  exit 0
fi

command -v npm >/dev/null 2>&1 || {
  echo "fetch-models: error: npm not found; run scripts/install-deps.sh first" >&2
  exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetch-models: downloading $package@$version with npm pack"
tarball_name=$(cd "$work" && npm pack --silent "$package@$version" | tail -n 1)
tarball=$work/$tarball_name
if [ ! -f "$tarball" ]; then
  echo "fetch-models: error: npm pack $package@$version did not write a tarball in $work" >&2
  exit 1
fi

actual=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ "$actual" != "$tarball_sha256" ]; then
  echo "fetch-models: error: $tarball_name has sha256 $actual, expected $tarball_sha256." >&2
  echo "fetch-models: the registry served different contents for $package@$version;" \
    "do not use these models, and check the package before changing the expected checksum." >&2
  exit 1
fi

members=()
for model in "${models[@]}"; do
  members+=("package/model/$model")
done
tar -xzf "$tarball" -C "$work" "${members[@]}"

for model in "${models[@]}"; do
  actual=$(sha256sum "$work/package/model/$model" | cut -d' ' -f1)
  if [ "$actual" != "${model_sha256[$model]}" ]; then
    echo "fetch-models: error: $model in the tarball has sha256 $actual, expected ${model_sha256[$model]}" >&2
    exit 1
  fi
done

mkdir -p "$dir"
for model in "${models[@]}"; do
  # Copy to a temporary name first so that an interrupted copy never leaves a
  # truncated model under the final name.
  cp "$work/package/model/$model" "$dir/$model.part"
  mv "$dir/$model.part" "$dir/$model"
done

{
  echo "package: $package"
  echo "version: $version"
  echo "tarball_sha256: $tarball_sha256"
  echo "licence: MIT"
  for model in "${models[@]}"; do
    echo "file: $model sha256 ${model_sha256[$model]}"
  done
} > "$dir/SOURCE.txt"

echo "fetch-models: wrote ${models[*]} and SOURCE.txt to $dir"
