#!/usr/bin/env bash
# Builds the book, opens one page in headless Chromium and saves a screenshot, so
# that anyone can check that the formulas render as math and the figures show.
#
#     book/screenshot.sh                          # the chapter-2 page
#     book/screenshot.sh ch01-background.html     # any page of the built book
#     book/screenshot.sh PAGE OUT.png             # choose where the PNG goes
#     WINDOW=1200,3200 book/screenshot.sh         # a taller window (default 1200,2000)
#     book/screenshot.sh --click 4 20             # the attention explorer, prompt 4, token 20 chosen
#     book/screenshot.sh --click 4 20 OUT.png
#     book/screenshot.sh figures/ch02/attention_1.svg  # a figure alone (the explorer's static maps)
#
# A page may carry a fragment (`attention-explorer.html#prompt=4&token=20`):
# that is how `--click` chooses a token, the way a reader's click would (the
# explorer's script reads the fragment once the page has loaded).
#
# Needs Debian's `chromium` (installed with apt-get when missing and run as root)
# and python3 (a local web server on 127.0.0.1 serves the built book). Nothing is
# fetched from the network while the page loads.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--click" ]; then
    if ! [[ "${2:-}" =~ ^[0-9]+$ && "${3:-}" =~ ^[0-9]+$ ]]; then
        echo "error: --click needs a prompt number (from 1) and a token position (from 0), e.g. --click 4 20" >&2
        exit 2
    fi
    page="attention-explorer.html#prompt=$2&token=$3"
    out="${4:-target/book-screenshots/attention-explorer-prompt$2-token$3.png}"
else
    page="${1:-ch02-core-concepts.html}"
    out="${2:-target/book-screenshots/$(echo "${page%.html}" | tr -c 'A-Za-z0-9_.\n-' '-').png}"
fi
file="${page%%[#?]*}"           # the page without its fragment or query
window="${WINDOW:-1200,2000}"   # e.g. WINDOW=1200,3200 for a taller page

mdbook=$(book/ensure-mdbook.sh)
"$mdbook" build book
if [ ! -f "book/book/$file" ]; then
    echo "error: book/book/$file does not exist; pages are:" >&2
    (cd book/book && ls ./*.html) >&2
    exit 2
fi

if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        echo "error: chromium is missing (sudo apt-get install chromium)" >&2
        exit 1
    fi
fi

# Serve the built book on a free local port; stop the server on exit.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory book/book >/dev/null 2>&1 &
server=$!
profile=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$profile"' EXIT
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
done

mkdir -p "$(dirname "$out")"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --virtual-time-budget=3000 \
    --window-size="$window" --screenshot="$out" "http://127.0.0.1:$port/$page" 2>/dev/null
echo "screenshot of $page: $out"
