#!/usr/bin/env bash
# The README's Tiny Shakespeare run, shortmem against PyTorch, in alternating
# rounds (3 by default): `ch05 --corpus TEXT --train-only` and
# tools/torch_shakespeare.py, the same model and recipe on 2 threads. Prints
# every round's seconds of training and the median of each side (with an even
# number of rounds, the lower of the two middle ones).
# Needs an idle machine and a Python with torch (PYTHON=/path/to/python,
# default python3).
#     tools/shakespeare_compare.sh TEXT [--rounds N] [--write]
# With --write, the median round of each side (by seconds of training) is the
# one the book quotes: its files go to book/src/figures/ch05/tinyshakespeare
# and book/src/figures/ch05/pytorch-shakespeare. Each side's loss must be the
# same in every round (both programs are deterministic for a given build);
# the script stops if it is not.
set -euo pipefail
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
# The text from anywhere (for the PyTorch script, which runs in tools/), and
# from the repository (as ch05's summary records its command).
absolute=$(realpath "$text")
cd "$(dirname "$0")/.."
relative=$(realpath --relative-to=. "$absolute")
"$python" -c "import torch" 2>/dev/null || { echo "shakespeare_compare.sh: $python has no torch (set PYTHON=/path/to/python)" >&2; exit 2; }
cargo build --release --bin ch05 >/dev/null 2>&1 || { echo "shakespeare_compare.sh: cargo build --release --bin ch05 failed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
value() { "$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['values'][sys.argv[2]])" "$1" "$2"; }
seconds() { value "$1/measured.json" "training seconds"; }
for round in $(seq "$rounds"); do
    log="$work/shortmem-$round.log"
    ./target/release/ch05 --corpus "$relative" --train-only --threads 2 --timings --out "$work/shortmem-$round" >"$log" 2>&1 ||
        { echo "shakespeare_compare.sh: ch05 failed in round $round:" >&2; tail -20 "$log" >&2; exit 1; }
    (cd tools && "$python" torch_shakespeare.py "$absolute" 2 --out "$work/pytorch-$round" >/dev/null) ||
        { echo "shakespeare_compare.sh: torch_shakespeare.py failed in round $round" >&2; exit 1; }
    echo "round $round: shortmem $(seconds "$work/shortmem-$round") s, PyTorch $(seconds "$work/pytorch-$round") s"
done
for side in shortmem pytorch; do
    losses=$(for r in $(seq "$rounds"); do value "$work/$side-$r/summary.json" "final val loss"; done | sort -u | wc -l)
    [ "$losses" -eq 1 ] || { echo "shakespeare_compare.sh: $side's validation loss differs between rounds" >&2; exit 1; }
done
# The round whose seconds are the median of its side.
median_round() {
    for r in $(seq "$rounds"); do echo "$(seconds "$work/$1-$r") $r"; done |
        sort -n | awk '{r[NR]=$2} END {print r[int((NR+1)/2)]}'
}
s=$(median_round shortmem)
p=$(median_round pytorch)
"$python" -c "import sys; s, p = float(sys.argv[2]), float(sys.argv[3]); print(f'medians of {sys.argv[1]} rounds: shortmem {s:.1f} s, PyTorch {p:.1f} s, ratio {s / p:.2f}')" \
    "$rounds" "$(seconds "$work/shortmem-$s")" "$(seconds "$work/pytorch-$p")"
if [ -n "$write" ]; then
    book=book/src/figures/ch05
    cp "$work/shortmem-$s"/{summary.json,measured.json,transformer_loss.svg} "$book/tinyshakespeare/"
    cp "$work/pytorch-$p"/{summary.json,measured.json} "$book/pytorch-shakespeare/"
    echo "wrote the median rounds to $book/tinyshakespeare and $book/pytorch-shakespeare"
fi
