#!/usr/bin/env bash
# The GPU speed checks in one go (about 6 minutes on one H100): training throughput at 32/64/128
# with a profile, with --compile at 128, the public-style comparison and augment throughput.
# benchmarks/gpu_smoke.sh runs every command and family once on CUDA (the functional check).
# Run from the repository root:  bash benchmarks/gpu_session.sh [OUT]
#   with the README's venv, or on a machine whose python3 already has torch, typer and rich (the
#   project's device machines):  PY=python3 bash benchmarks/gpu_session.sh "$OUT"
# Each step logs to OUT/<step>.log and keeps going if one fails; the summary lists the exit codes.
set -uo pipefail
OUT="${1:-${OUT:-benchmarks/results/gpu}}"
mkdir -p "$OUT"
PY="${PY:-.venv/bin/python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1  # runs without an install too
declare -A RC

step() {  # step NAME COMMAND...
  local name=$1; shift
  echo "== $name: $*" | tee -a "$OUT/summary.txt"
  local t0=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  RC[$name]=$?
  echo "   exit ${RC[$name]} after $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$OUT/gpu.txt" 2>&1
step throughput $PY benchmarks/train_throughput.py --resolutions 32 64 128 --out "$OUT"
step throughput_compile $PY benchmarks/train_throughput.py --resolutions 128 --compile --no-profile \
  --out "$OUT/compile"
step vs_public_style $PY benchmarks/vs_public_style.py --resolution 128 --batch-size 128 --out "$OUT"
step augment $PY benchmarks/augment_throughput.py --out "$OUT"
if [ "$($PY -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  $PY -m cvaegan demo --device cuda --steps 1 --out "$OUT/demo" >/dev/null 2>&1  # its data
  step nproc2 $PY -m cvaegan train "$OUT/demo/data" --nproc 2 --device cuda -r 32 --width 0.25 \
    --latent-dim 32 -b 128 --steps 300 --out "$OUT/runs" --name nproc2
  step nproc2_syncbn $PY -m cvaegan train "$OUT/demo/data" --nproc 2 --device cuda -r 32 --width 0.25 \
    --latent-dim 32 -b 128 --steps 300 --sync-bn --out "$OUT/runs" --name nproc2-syncbn
fi
echo "== exit codes: $(for k in "${!RC[@]}"; do printf '%s=%s ' "$k" "${RC[$k]}"; done)" | tee -a "$OUT/summary.txt"
grep -h -B1 -A4 "res batch" "$OUT/throughput.log" "$OUT/throughput_compile.log" 2>/dev/null | tee -a "$OUT/summary.txt"
