#!/usr/bin/env bash
# The road past one machine, measured (chapter 7): shortmem trains the §5 model
# on a corpus with ch05's recipe and saves it; PyTorch continues it on one
# process, then on two (torchrun, DistributedDataParallel over gloo) at the
# same global batch; shortmem loads the result and compares logits.
#
#   tools/handover.sh PYTHON [CORPUS] [STEPS]
#
# PYTHON: a Python with torch 2.x and safetensors (its torchrun is used).
# CORPUS: default ../shared/data/tinyshakespeare.txt. STEPS: PyTorch's steps (200).
# Writes book/src/figures/ch07/handover/handover.txt (the book includes it).
# Time it on an idle machine: about 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:?usage: tools/handover.sh PYTHON [CORPUS] [STEPS]}
CORPUS=${2:-../shared/data/tinyshakespeare.txt}
STEPS=${3:-200}
TORCHRUN="$(dirname "$(command -v "$PY")")/torchrun"
[ -x "$TORCHRUN" ] || { echo "error: no torchrun beside $PY" >&2; exit 2; }
[ -f "$CORPUS" ] || { echo "error: corpus $CORPUS not found" >&2; exit 2; }
OUT=book/src/figures/ch07/handover
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

cargo build --release --bin ch05 --example pytorch_logits
./target/release/ch05 --corpus "$CORPUS" --train-only --save "$TMP/shortmem.safetensors" --out "$TMP/ch05" > "$TMP/ch05.log"
"$PY" tools/continue_in_pytorch.py "$TMP/shortmem.safetensors" --corpus "$CORPUS" --steps "$STEPS" \
    --out "$TMP/one.safetensors" > "$TMP/one.log"
OMP_NUM_THREADS=1 "$TORCHRUN" --nproc_per_node=2 tools/continue_in_pytorch.py "$TMP/shortmem.safetensors" \
    --corpus "$CORPUS" --steps "$STEPS" --out "$TMP/two.safetensors" > "$TMP/two.log" 2> "$TMP/two.err"
./target/release/examples/pytorch_logits "$TMP/two.safetensors" > "$TMP/back.txt"

python3 - "$TMP" "$CORPUS" "$STEPS" > "$OUT/handover.txt" <<'EOF'
import json, os, sys
tmp, corpus, steps = sys.argv[1], os.path.basename(sys.argv[2]), sys.argv[3]
sm = json.load(open(f"{tmp}/ch05/summary.json"))["values"]
one = json.load(open(f"{tmp}/one.safetensors.json"))
two = json.load(open(f"{tmp}/two.safetensors.json"))
def mean(xs): return sum(xs) / len(xs)
print(f"shortmem, ch05 --corpus {corpus} --train-only ({sm['steps']} steps, 2 threads):")
print(f"  loss, mean of its last 50 steps    {sm['final train loss (mean of last 50)']:.4f}")
print(f"  validation loss (random windows)   {sm['final val loss']:.4f}")
for name, r in (("PyTorch, 1 process", one), ("PyTorch, 2 processes (torchrun, gloo)", two)):
    print(f"{name}, {r['steps']} more steps, global batch {r['batch']}, peak rate {r['peak_lr']:g}:")
    print(f"  loss at its first step             {r['first_loss']:.4f}")
    print(f"  loss, mean of its first 50 steps   {mean(r['losses'][:50]):.4f}")
    print(f"  loss, mean of its last 50 steps    {mean(r['losses'][-50:]):.4f}")
    print(f"  validation loss before, after      {r['val_loss_before']:.4f}, {r['val_loss_after']:.4f}  ({r['eval_windows']} consecutive windows)")
    print(f"  speed                              {r['tokens_per_second']:.0f} tokens/s")
gap = max(abs(a - b) for a, b in zip(one["losses"], two["losses"]))
print(f"1 process against 2, step by step: largest loss difference {gap:.1e}")
print(f"back in shortmem (2-process model): {open(f'{tmp}/back.txt').read().strip()}")
print(f"torch {one['torch']}")
EOF
cat "$OUT/handover.txt"
