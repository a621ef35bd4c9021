#!/usr/bin/env bash
# The README's Tiny Shakespeare run, shortmem against PyTorch, in alternating
# rounds (3 by default): `ch05 --corpus TEXT --train-only` and
# tools/torch_shakespeare.py, the same model and recipe on 2 threads. Prints
# every round's seconds of training and the median of each side.
# Needs an idle machine and a Python with torch (PYTHON=/path/to/python,
# default python3).
#     tools/shakespeare_compare.sh TEXT [--rounds N] [--write]
# With --write, the median round of each side (by seconds of training) is the
# one the book quotes: its files go to book/src/figures/ch05/tinyshakespeare
# and book/src/figures/ch05/pytorch-shakespeare. (The loss of every round is
# the same: both programs are deterministic for a given build.)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
rounds=3
write=""
text=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
        --write) write=1; shift ;;
        -*) echo "shakespeare_compare.sh: unknown argument '$1' (expected TEXT, --rounds N or --write)" >&2; exit 2 ;;
        *) text="$1"; shift ;;
    esac
done
[ -n "$text" ] || { echo "usage: tools/shakespeare_compare.sh TEXT [--rounds N] [--write]" >&2; exit 2; }
[ -f "$text" ] || { echo "shakespeare_compare.sh: no such file: $text" >&2; exit 2; }
case "$rounds" in ''|*[!0-9]*|0) echo "shakespeare_compare.sh: --rounds must be a whole number ≥ 1, got '$rounds'" >&2; exit 2 ;; esac
"$python" -c "import torch" 2>/dev/null || { echo "shakespeare_compare.sh: $python has no torch (set PYTHON=/path/to/python)" >&2; exit 2; }
cargo build --release --bin ch05 >/dev/null 2>&1
work=$(mktemp -d)
absolute=$(realpath "$text")
seconds() { "$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['values']['training seconds'])" "$1"; }
for round in $(seq "$rounds"); do
    ./target/release/ch05 --corpus "$text" --train-only --threads 2 --timings --out "$work/shortmem-$round" >/dev/null 2>&1
    (cd tools && "$python" torch_shakespeare.py "$absolute" 2 --out "$work/pytorch-$round" >/dev/null)
    echo "round $round: shortmem $(seconds "$work/shortmem-$round/measured.json") s, PyTorch $(seconds "$work/pytorch-$round/measured.json") s"
done
# The round whose seconds are the median of its side.
median_round() {
    for r in $(seq "$rounds"); do echo "$(seconds "$work/$1-$r/measured.json") $r"; done |
        sort -n | awk '{r[NR]=$2} END {print r[int((NR+1)/2)]}'
}
s=$(median_round shortmem)
p=$(median_round pytorch)
s_sec=$(seconds "$work/shortmem-$s/measured.json")
p_sec=$(seconds "$work/pytorch-$p/measured.json")
printf 'medians of %s rounds: shortmem %.1f s, PyTorch %.1f s, ratio %.2f\n' "$rounds" "$s_sec" "$p_sec" "$(echo "$s_sec / $p_sec" | bc -l)"
if [ -n "$write" ]; then
    book=book/src/figures/ch05
    cp "$work/shortmem-$s"/{summary.json,measured.json,transformer_loss.svg} "$book/tinyshakespeare/"
    cp "$work/pytorch-$p"/{summary.json,measured.json} "$book/pytorch-shakespeare/"
    echo "wrote the median rounds to $book/tinyshakespeare and $book/pytorch-shakespeare"
fi
rm -rf "$work"
