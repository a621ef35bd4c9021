#!/usr/bin/env bash
# Training tokens/s of the §5 model, shortmem against PyTorch, 1 and 2 threads:
# three alternating rounds, then the median of each cell. Needs an idle machine
# and a Python with torch (PYTHON=/path/to/python, default python3).
#     tools/speed_compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
cargo build --release --example train_speed >/dev/null 2>&1
out=$(mktemp)
for round in 1 2 3; do
    for threads in 1 2; do
        ./target/release/examples/train_speed "$threads" | awk -v t="$threads" '$1 ~ /tiny|small|medium/ {print "shortmem", t, $1, $4}' >>"$out"
        "$python" tools/torch_speed.py "$threads" | awk -v t="$threads" '$1 ~ /tiny|small|medium/ {print "pytorch", t, $1, $4}' >>"$out"
    done
done
echo "median tokens/s over 3 rounds ($(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
printf '%-8s %8s %12s %12s %7s\n' config threads shortmem pytorch ratio
for config in tiny small medium; do
    for threads in 1 2; do
        s=$(awk -v c="$config" -v t="$threads" '$1=="shortmem" && $2==t && $3==c {print $4}' "$out" | sort -n | sed -n 2p)
        p=$(awk -v c="$config" -v t="$threads" '$1=="pytorch" && $2==t && $3==c {print $4}' "$out" | sort -n | sed -n 2p)
        printf '%-8s %8s %12s %12s %7.2f\n' "$config" "$threads" "$s" "$p" "$(echo "$s / $p" | bc -l)"
    done
done
rm -f "$out"
