#!/usr/bin/env bash
# One run over every CUDA path of p2p-eval, a few minutes on a GPU, one line per figure at the end:
#
#   1. a pix2pix train step: the trainer with bf16 AMP + channels_last vs the bare fp32 step
#      (benchmarks/bench_train_step.py);
#   2. FCN-score: this pipeline vs the official-style per-image loop (target >= 2x on a GPU) and
#      vs the forward passes alone (benchmarks/bench_fcn_score.py --device cuda);
#   3. the trainer under torchrun with NCCL, one process per GPU (two at most): weights in sync
#      (on a CPU: two gloo processes, the same path);
#   4. the FCN-8s of `segmenter import-caffe` at the official 1024x2048: images/s, peak memory
#      (benchmarks/bench_fcn8s.py).
#
# Without CUDA (or with --cpu) it runs what a CPU can in seconds, at small sizes, and prints a
# "skipped" line for each figure that needs CUDA, so CI keeps the script working
# (tests/test_gpu_check.py).
#
#   bash benchmarks/gpu_check.sh          # CUDA when torch sees it, else the CPU check
#   bash benchmarks/gpu_check.sh --cpu
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PYTHON=${PYTHON:-python}

mode=auto
case "${1:-}" in
  --cpu) mode=cpu ;;
  "") ;;
  *) echo "usage: $0 [--cpu]" >&2; exit 2 ;;
esac
if [ "$mode" = auto ] && "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  mode=cuda
  gpus=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())')
else
  mode=cpu
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
figures="$tmp/figures.txt"
: > "$figures"
figure() { echo "gpu_check: $*" >> "$figures"; }
step() { echo; echo "== $*"; }

step "1. pix2pix train step"
if [ "$mode" = cuda ]; then
  "$PYTHON" benchmarks/bench_train_step.py --device cuda --amp --size 256 --ngf 64 --steps 30 --rounds 2 \
    --workers 4 | tee "$tmp/train_step.txt"
  figure "$(grep '^train step' "$tmp/train_step.txt")"
else
  "$PYTHON" benchmarks/bench_train_step.py --device cpu --size 32 --ngf 8 --steps 3 --rounds 1 \
    | tee "$tmp/train_step.txt"
  figure "$(grep '^train step' "$tmp/train_step.txt")"
  figure "train step with bf16 AMP + channels_last: skipped (needs CUDA; the CPU line above is fp32)"
fi

step "2. FCN-score pipeline vs the official-style loop"
if [ "$mode" = cuda ]; then
  "$PYTHON" benchmarks/bench_fcn_score.py --device cuda --frames 32 --label-size 1024 2048 --batch-size 4 \
    --workers 4 --repeats 3 | tee "$tmp/fcn_score.txt"
else
  "$PYTHON" benchmarks/bench_fcn_score.py --device cpu --frames 2 --image-size 64 --label-size 64 128 \
    --batch-size 1 --workers 1 --repeats 1 | tee "$tmp/fcn_score.txt"
fi
where=$(grep '^device:' "$tmp/fcn_score.txt" | sed 's/^device: //; s/;.*//')
for key in 'official-style / pipeline' 'pipeline / forward only' 'confusions:'; do
  figure "fcn-score ($where): $(grep "$key" "$tmp/fcn_score.txt" | sed 's/^ *//; s/  */ /g')"
done

step "3. trainer under torchrun (DDP)"
if [ "$mode" = cuda ]; then  # one process per GPU (NCCL refuses two ranks on one GPU)
  nproc=$(( gpus < 2 ? gpus : 2 )); ddp_args=(--device cuda --amp --size 64 --ngf 32 --ndf 32); n_train=32
else  # the same script path with gloo, at a toy size
  nproc=2; ddp_args=(--device cpu --size 32 --ngf 4 --ndf 4 --threads 1); n_train=4
fi
"$PYTHON" -m p2p_eval prepare synthetic --out "$tmp/data" --n-train "$n_train" --n-val 2 --size 64 \
  --label-size 64x128 --workers 2 --quiet
start=$(date +%s.%N)
"$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m p2p_eval train --data "$tmp/data" \
  --variant unet-l1-cgan --out "$tmp/ddp" --epochs 2 --sample-every 0 --checkpoint-every 1000 "${ddp_args[@]}"
seconds=$("$PYTHON" -c "import time; print(f'{time.time() - $start:.1f}')")
figure "$("$PYTHON" - "$tmp/ddp/run.json" "$seconds" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
d, config = meta.get("distributed") or {}, meta["config"]
sync = "weights identical on every rank" if d.get("in_sync") else "NOT IN SYNC"
note = "" if d.get("world_size", 0) > 1 else " (1 GPU: NCCL initialised; gradient all-reduce needs >= 2 GPUs)"
amp = " with bf16 AMP" if config["amp"] else ""
print(f"torchrun DDP: {d.get('world_size')} processes, backend {d.get('backend')}, {meta['steps']} steps of "
      f"{meta['variant']} {config['size']}x{config['size']}{amp} in {sys.argv[2]} s (start-up included), {sync}{note}")
EOF
)"
if [ "$mode" = cpu ]; then
  figure "torchrun DDP with NCCL on GPUs: skipped (needs CUDA; the line above ran the same path with gloo)"
fi

step "4. FCN-8s at the official resolution"
if [ "$mode" = cuda ]; then
  "$PYTHON" benchmarks/bench_fcn8s.py --device cuda --height 1024 --width 2048 --iters 10 | tee "$tmp/fcn8s.txt"
  figure "$(grep '^FCN-8s' "$tmp/fcn8s.txt")"
else
  "$PYTHON" benchmarks/bench_fcn8s.py --device cpu --height 64 --width 128 --width-divisor 8 --iters 1 \
    | tee "$tmp/fcn8s.txt"
  figure "$(grep '^FCN-8s' "$tmp/fcn8s.txt")"
  figure "FCN-8s 1024x2048 images/s and peak GPU memory: skipped (needs CUDA; the CPU line above is a 1/8-wide net at 64x128)"
fi

echo
echo "== figures ($mode)"
cat "$figures"
