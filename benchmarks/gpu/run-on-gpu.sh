#!/usr/bin/env bash
# Runs on the CUDA machine (no .NET, a PyTorch with CUDA), in one call, from the repository root:
#   1. the machine: GPU, driver, PyTorch, libtorch folder;
#   2. whether libLibTorchSharp.so (built for libtorch 2.10) binds to the machine's libtorch (check_symbols.py);
#   3. the .NET workloads (artifacts/gpu/gpusweep.tar.xz from publish.sh) against that libtorch on CUDA;
#   4. the same workloads in Python torchvision (torchvision_peer.py), the peer to compare with;
#   5. with DEGRADATION_EPOCHS=N and artifacts/gpu/fashion-mnist present: the Degradation networks trained N epochs.
# Results go to $OUT (or ./gpu-out): env.txt, symbols.txt, dotnet.log, dotnet-sweep.json, peer.log, peer.json,
# degradation.csv. STEPS=dotnet,peer,degradation chooses what runs (default: dotnet,peer).
# SWEEP=mixed: only the mixed-precision training rows, the flat-buffer trainer and the earlier per-parameter one
# against PyTorch autocast (GpuSweep --mixed, torchvision_peer.py --mixed); a few minutes on an H200.
# Dry run on a CPU machine: DEVICE=cpu QUICK=1 bash benchmarks/gpu/run-on-gpu.sh
set -u
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
steps=${STEPS:-dotnet,peer}
device=${DEVICE:-cuda}
quick=${QUICK:+--quick}
mixed=
dotnet_timeout=${DOTNET_TIMEOUT:-300}
peer_timeout=${PEER_TIMEOUT:-240}
if [ "${SWEEP:-}" = mixed ]; then
  # 25 .NET and 15 Python measurements; the limits keep the whole call under 8 minutes.
  mixed=--mixed
  dotnet_timeout=${DOTNET_TIMEOUT:-270}
  peer_timeout=${PEER_TIMEOUT:-150}
fi
py=${PYTHON:-python3}

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi: not available"
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)" 2>&1
  $py -c "import torchvision; print('torchvision', torchvision.__version__)" 2>&1
  ldd --version 2>&1 | head -1
  strings /usr/lib/x86_64-linux-gnu/libstdc++.so.6 2>/dev/null | grep -c '^GLIBCXX_3.4.3' | sed 's/^/libstdc++ GLIBCXX_3.4.3x versions: /'
} > "$out/env.txt"
cat "$out/env.txt"

torch_lib=$($py -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
echo "libtorch folder: $torch_lib"

work=$(mktemp -d)
if [ -f artifacts/gpu/gpusweep.tar.xz ]; then
  tar -C "$work" -xJf artifacts/gpu/gpusweep.tar.xz
  $py benchmarks/gpu/check_symbols.py "$work/gpusweep/libLibTorchSharp.so" "$torch_lib" --max 80 > "$out/symbols.txt" 2>&1
  head -20 "$out/symbols.txt"
else
  echo "artifacts/gpu/gpusweep.tar.xz missing: run benchmarks/gpu/publish.sh first" | tee "$out/symbols.txt"
fi

export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [[ ,$steps, == *,dotnet,* && -x "$work/gpusweep/ResidualNet.GpuSweep" ]]; then
  timeout "$dotnet_timeout" "$work/gpusweep/ResidualNet.GpuSweep" --device "$device" $quick $mixed --out "$out" > "$out/dotnet.log" 2>&1
  echo "dotnet sweep exit code $?" | tee -a "$out/dotnet.log"
  grep -E '^DOTNET' "$out/dotnet.log" | head -60
  tail -5 "$out/dotnet.log"
fi

if [[ ,$steps, == *,peer,* ]]; then
  PYTHONUNBUFFERED=1 timeout "$peer_timeout" $py benchmarks/gpu/torchvision_peer.py $quick $mixed --out "$out/peer.json" > "$out/peer.log" 2>&1
  echo "peer exit code $?" | tee -a "$out/peer.log"
  grep -cE '^PEER \{' "$out/peer.log" | sed 's/^/peer measurements: /'
  tail -3 "$out/peer.log"
fi

if [[ ,$steps, == *,degradation,* && -x "$work/gpusweep/ResidualNet.GpuSweep" ]]; then
  timeout "${DEGRADATION_TIMEOUT:-400}" "$work/gpusweep/ResidualNet.GpuSweep" --device "$device" --skip-sweep \
    --degradation-epochs "${DEGRADATION_EPOCHS:-10}" --data artifacts/gpu/fashion-mnist ${TRAIN_SUBSET:+--train-subset $TRAIN_SUBSET} --out "$out" > "$out/degradation.log" 2>&1
  echo "degradation exit code $?" | tee -a "$out/degradation.log"
  grep -E '^DEGRADATION' "$out/degradation.log" | tail -50
fi
rm -rf "$work"
