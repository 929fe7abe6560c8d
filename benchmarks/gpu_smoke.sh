#!/usr/bin/env bash
# Every command and model family once on CUDA, end to end (about 8 minutes on one H100, 2026-11-24; the test step last): the
# CUDA paths that the CPU test suite cannot reach. Run from the repository root:
#   PY=python3 bash benchmarks/gpu_smoke.sh OUT [CHARS]
# CHARS: a prepared characters dataset (`cvaegan prepare chars`) for the SAAE steps; skipped without.
# Each step logs to OUT/<step>.log and keeps going if one fails; OUT/summary.txt lists exit codes.
set -uo pipefail
OUT="${1:?OUT folder}"; CHARS="${2:-}"
mkdir -p "$OUT"; W=$(mktemp -d)
PY="${PY:-.venv/bin/python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 CVAEGAN_CACHE="$W/cache"
CV="$PY -m cvaegan"
step() {  # step NAME COMMAND...
  local name=$1; shift
  local t0=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  printf '%-22s exit %3s  %4ss\n' "$name" "$rc" "$((SECONDS - t0))" | tee -a "$OUT/summary.txt"
  [ $rc -eq 0 ] || tail -5 "$OUT/$name.log" | sed 's/^/    | /' | tee -a "$OUT/summary.txt"
}
D="$W/demo/data"; R="$W/runs"; T=(--device cuda -r 32 --width .25 --latent-dim 32 -b 128 --out "$R")
step demo $CV demo --device cuda --steps 1500 --max-minutes 3 --out "$W/demo"
cp "$W"/demo/runs/*/report/*.png "$OUT/" 2>/dev/null
step train_compile $CV train "$D" "${T[@]}" --steps 300 --compile --name c --log-every 100
step resume $CV train "$D" "${T[@]}" --steps 400 --name c --resume --log-every 100
for m in fmcgan cgan cvae; do step "train_$m" $CV train "$D" "${T[@]}" --steps 100 --model $m --name $m; done
step train_ifcvaegan $CV train "$D" "${T[@]}" --steps 300 --model ifcvaegan --name if
step torchrun_nccl $PY -m torch.distributed.run --standalone --nproc-per-node 1 -m cvaegan train "$D" \
  "${T[@]}" --steps 100 --name ddp --sync-bn
C="$R/c/checkpoints/latest.pt"
step sample $CV sample --class all -n 64 --ckpt "$C" --device cuda --out "$W/s.png"
step judge $CV judge train "$D" -r 32 --epochs 3 --device cuda -o "$W/judge.pt"
step evaluate $CV evaluate --ckpt "$C" --judge "$W/judge.pt" --data "$D" --device cuda
IMG=$(find "$D" -name '*.png' | sort | head -1); IMG2=$(find "$D" -name '*.png' | sort | tail -1)
step morph $CV morph "$IMG" "$IMG2" --aligned --ckpt "$C" --device cuda --out "$W/m.png"
step inpaint $CV inpaint "$IMG" --aligned --ckpt "$C" --device cuda --out "$W/i.png"
$PY -c "from PIL import Image; Image.open('$IMG').resize((8, 8), Image.BICUBIC).save('$W/low.png')"
step superres $CV superres "$W/low.png" --scale 4 --ckpt "$C" --device cuda --out "$W/sr.png"
step augment $CV augment --per-class 200 --ckpt "$C" --device cuda --out "$W/aug" --writers 8
step edit $CV edit "$IMG" --aligned --sweep 0 --ckpt "$R/if/checkpoints/latest.pt" --device cuda --out "$W/e.png"
if [ -n "$CHARS" ]; then
  step train_saae $CV train "$CHARS" --device cuda --model saae -r 32 --width .5 -b 128 --steps 700 \
    --out "$R" --name saae --log-every 100
  S="$R/saae/checkpoints/latest.pt"; mkdir -p "$W/styles"
  for c in A N 7; do cp "$CHARS/$c/font_00005.png" "$W/styles/$c-font5.png" 2>/dev/null; done
  step stylize $CV stylize --grid --styles "$W/styles" --ckpt "$S" --device cuda --out "$OUT/stylize.png"
  step augment_styles $CV augment --style-from "$W/styles" --ckpt "$S" --device cuda --out "$W/aug2"
fi
step pytest timeout 180 $PY -m pytest -q -n 8 -p no:cacheprovider tests
echo "done; work folder $W" | tee -a "$OUT/summary.txt"
