#!/usr/bin/env bash
# Training tokens/s of the §5 model, shortmem against PyTorch, 1 and 2 threads:
# three alternating rounds, then the median of each cell, with the model FLOPs
# utilisation (MFU) of both. Needs an idle machine
# and a Python with torch (PYTHON=/path/to/python, default python3).
#     tools/speed_compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
cargo build --release --example train_speed >/dev/null 2>&1
out=$(mktemp)
for round in 1 2 3; do
    for threads in 1 2; do
        # shortmem's row: config, tokens/s, MFU (its FMA peak × threads).
        ./target/release/examples/train_speed "$threads" | awk -v t="$threads" '$1 ~ /tiny|small|medium/ {sub("%", "", $5); print "shortmem", t, $1, $4, $5}' >>"$out"
        "$python" tools/torch_speed.py "$threads" | awk -v t="$threads" '$1 ~ /tiny|small|medium/ {print "pytorch", t, $1, $4, 0}' >>"$out"
    done
done
echo "median tokens/s over 3 rounds ($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo "MFU: tokens/s × the model's FLOPs per token over the FMA peak of the threads (the same FLOPs and peak for both)"
printf '%-8s %8s %12s %7s %12s %7s %7s\n' config threads shortmem MFU pytorch MFU ratio
for config in tiny small medium; do
    for threads in 1 2; do
        cell() { awk -v w="$1" -v c="$config" -v t="$threads" -v f="$2" '$1==w && $2==t && $3==c {print $f}' "$out" | sort -n | sed -n 2p; }
        s=$(cell shortmem 4)
        p=$(cell pytorch 4)
        # The MFU of a cell's median run; FLOPs per token and peak are the same for PyTorch.
        s_mfu=$(awk -v c="$config" -v t="$threads" -v s="$s" '$1=="shortmem" && $2==t && $3==c && $4==s {print $5; exit}' "$out")
        p_mfu=$(echo "$s_mfu * $p / $s" | bc -l)
        printf '%-8s %8s %12s %6.1f%% %12s %6.1f%% %7.2f\n' "$config" "$threads" "$s" "$s_mfu" "$p" "$p_mfu" "$(echo "$s / $p" | bc -l)"
    done
done
rm -f "$out"
