#!/usr/bin/env bash
# Training tokens/s, shortmem against PyTorch, 1 and 2 threads, in alternating
# rounds (3 by default), then the median of each cell:
#   * the §5 model at three sizes (examples/train_speed.rs against
#     tools/torch_speed.py), with the model FLOPs utilisation (MFU) of both;
#   * the §4.1 RNN (train_speed THREADS rnn against tools/torch_rnn_speed.py,
#     PyTorch's Python loop over time steps and its nn.RNN).
# Needs an idle machine and a Python with torch (PYTHON=/path/to/python,
# default python3).
#     tools/speed_compare.sh [--rounds N] [--out DIR]
# With --out, the medians also go to DIR/measured.json (the wall-clock values
# the book quotes; the book's run writes book/src/figures/speed) and DIR/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
rounds=3
dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="${2:?--rounds needs a number}"; shift 2 ;;
        --out) dir="${2:?--out needs a folder}"; shift 2 ;;
        *) echo "speed_compare.sh: unknown argument '$1' (expected --rounds N or --out DIR)" >&2; exit 2 ;;
    esac
done
"$python" -c "import torch" 2>/dev/null || { echo "speed_compare.sh: $python has no torch (set PYTHON=/path/to/python)" >&2; exit 2; }
cargo build --release --example train_speed >/dev/null 2>&1
out=$(mktemp)
for round in $(seq "$rounds"); do
    for threads in 1 2; do
        # shortmem's rows: who, threads, config, tokens/s, MFU (its FMA peak × threads).
        ./target/release/examples/train_speed "$threads" | awk -v t="$threads" '$1 ~ /tiny|small|medium/ {sub("%", "", $5); print "shortmem", t, $1, $4, $5}' >>"$out"
        "$python" tools/torch_speed.py "$threads" | awk -v t="$threads" '$1 ~ /tiny|small|medium/ {print "pytorch", t, $1, $4, 0}' >>"$out"
        ./target/release/examples/train_speed "$threads" rnn | awk -v t="$threads" '$1 == "rnn" {print "shortmem", t, "rnn", $4, 0}' >>"$out"
        "$python" tools/torch_rnn_speed.py "$threads" | awk -v t="$threads" '$1 == "loop" || $1 == "nn.RNN" {print "pytorch", t, "rnn-" $1, $4, 0}' >>"$out"
    done
done
# The median of a cell (the middle of its sorted rounds).
cell() { awk -v w="$1" -v c="$2" -v t="$3" '$1==w && $2==t && $3==c {print $4}' "$out" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
machine="$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "medians of $rounds rounds ($machine)"
echo "MFU: tokens/s × the model's FLOPs per token over the FMA peak of the threads (the same FLOPs and peak for both)"
printf '%-8s %8s %12s %7s %12s %7s %7s\n' config threads shortmem MFU pytorch MFU ratio
json=""
add() { json="$json    \"$1\": $2,\n"; }
for config in tiny small medium; do
    for threads in 1 2; do
        s=$(cell shortmem "$config" "$threads")
        p=$(cell pytorch "$config" "$threads")
        # The MFU of the median run; FLOPs per token and peak are the same for PyTorch.
        s_mfu=$(awk -v c="$config" -v t="$threads" -v s="$s" '$1=="shortmem" && $2==t && $3==c && $4==s {print $5; exit}' "$out")
        p_mfu=$(echo "$s_mfu * $p / $s" | bc -l)
        ratio=$(echo "$s / $p" | bc -l)
        printf '%-8s %8s %12s %6.1f%% %12s %6.1f%% %7.2f\n' "$config" "$threads" "$s" "$s_mfu" "$p" "$p_mfu" "$ratio"
        key="$config, $threads thread(s)"
        add "$key: shortmem tokens/s" "$s"
        add "$key: PyTorch tokens/s" "$p"
        add "$key: shortmem MFU" "$(echo "$s_mfu / 100" | bc -l | sed 's/^\./0./')"
        add "$key: PyTorch MFU" "$(echo "$p_mfu / 100" | bc -l | sed 's/^\./0./')"
        add "$key: ratio" "$(echo "$ratio" | sed 's/^\./0./')"
    done
done
echo
printf '%-8s %8s %12s %12s %7s %12s %7s\n' model threads shortmem "torch loop" ratio "nn.RNN" ratio
for threads in 1 2; do
    s=$(cell shortmem rnn "$threads")
    l=$(cell pytorch rnn-loop "$threads")
    r=$(cell pytorch rnn-nn.RNN "$threads")
    rl=$(echo "$s / $l" | bc -l)
    rr=$(echo "$s / $r" | bc -l)
    printf '%-8s %8s %12s %12s %7.2f %12s %7.2f\n' rnn "$threads" "$s" "$l" "$rl" "$r" "$rr"
    key="rnn, $threads thread(s)"
    add "$key: shortmem tokens/s" "$s"
    add "$key: PyTorch loop tokens/s" "$l"
    add "$key: PyTorch nn.RNN tokens/s" "$r"
    add "$key: ratio to the loop" "$(echo "$rl" | sed 's/^\./0./')"
    add "$key: ratio to nn.RNN" "$(echo "$rr" | sed 's/^\./0./')"
done
rm -f "$out"
if [ -n "$dir" ]; then
    mkdir -p "$dir"
    command="tools/speed_compare.sh"
    [ "$rounds" != 3 ] && command="$command --rounds $rounds"
    torch=$("$python" -c "import torch; print(torch.__version__)")
    printf '{\n  "chapter": "speed",\n  "command": "%s",\n  "figures": [],\n  "findings": [],\n  "values": {\n    "command": "%s"\n  }\n}\n' "$command" "$command" >"$dir/summary.json"
    printf '{\n  "chapter": "speed",\n  "command": "%s",\n  "figures": [],\n  "findings": [],\n  "machine": "%s",\n  "values": {\n%b    "machine": "%s",\n    "date": "%s",\n    "rounds": %s,\n    "torch": "%s"\n  }\n}\n' \
        "$command" "$machine" "$json" "$machine" "$(date +%Y-%m-%d)" "$rounds" "$torch" >"$dir/measured.json"
    echo "wrote $dir/summary.json and $dir/measured.json"
fi
