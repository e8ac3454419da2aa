#!/usr/bin/env bash
# Compiles every kernels/src/main/cuda/*.cu to PTX for sm_90 (run by the cuda-ptx Maven profile).
# Usage: build-ptx.sh <nvcc> <cuda source dir> <output dir>
# A PTX file is rebuilt only when it is older than its .cu or any shared header, so repeated
# builds cost nothing. Fails loudly (non-zero exit, nvcc's message) if a kernel does not compile.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 <nvcc> <cuda source dir> <output dir>" >&2
  exit 2
fi
nvcc=$1
src=$2
out=$3
arch=${SHUTTLE_CUDA_ARCH:-sm_90}

if [ ! -x "$nvcc" ]; then
  echo "build-ptx: nvcc not found or not executable at $nvcc" >&2
  exit 1
fi
mkdir -p "$out"

newest_header=0
for h in "$src"/*.cuh; do
  [ -e "$h" ] || continue
  t=$(stat -c %Y "$h")
  [ "$t" -gt "$newest_header" ] && newest_header=$t
done

built=0
for cu in "$src"/*.cu; do
  name=$(basename "$cu" .cu)
  ptx="$out/$name.ptx"
  if [ -f "$ptx" ]; then
    ptx_time=$(stat -c %Y "$ptx")
    if [ "$ptx_time" -ge "$(stat -c %Y "$cu")" ] && [ "$ptx_time" -ge "$newest_header" ]; then
      continue
    fi
  fi
  "$nvcc" --ptx -arch="$arch" -std=c++17 -O3 -lineinfo -I "$src" -o "$ptx.tmp" "$cu"
  mv "$ptx.tmp" "$ptx"
  built=$((built + 1))
done
echo "build-ptx: $built of $(ls "$src"/*.cu | wc -l) kernel files compiled to PTX ($arch) in $out"
