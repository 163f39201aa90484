#!/usr/bin/env bash
# Builds what a CUDA machine without .NET needs to run ResidualNet's GPU benchmarks, under artifacts/gpu/:
#   gpusweep.tar.xz   a self-contained linux-x64 publish of benchmarks/ResidualNet.GpuSweep WITHOUT a libtorch
#                     (TorchBackend=none: only TorchSharp's libLibTorchSharp.so, patched by the ResidualNet build
#                     targets); it loads the libtorch of the machine's PyTorch through LD_LIBRARY_PATH.
#   fashion-mnist/    the Fashion-MNIST IDX files, with --with-data (for the Degradation run on the GPU).
# The device tool copies at most 64 MiB; this script prints the sizes.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/artifacts/gpu"
rm -rf "$out/gpusweep" "$out/gpusweep.tar.xz"
mkdir -p "$out"
dotnet publish "$repo/benchmarks/ResidualNet.GpuSweep/ResidualNet.GpuSweep.csproj" -c Release -r linux-x64 --self-contained \
  -p:TorchBackend=none -p:DebugType=none -o "$out/gpusweep" --nologo -v quiet
if ls "$out/gpusweep"/libtorch*.so >/dev/null 2>&1; then
  echo "publish.sh: the publish holds a libtorch; TorchBackend=none did not apply" >&2
  exit 1
fi
tar -C "$out" -cJf "$out/gpusweep.tar.xz" gpusweep
rm -rf "$out/gpusweep"
if [ "${1:-}" = "--with-data" ]; then
  mkdir -p "$out/fashion-mnist"
  cp /usr/share/datasets/fashion-mnist/*.gz "$out/fashion-mnist/"
fi
du -sh "$out"/* 
