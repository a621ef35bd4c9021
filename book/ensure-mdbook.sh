#!/usr/bin/env bash
# Prints the path of the pinned mdBook, installing it first if it is missing or
# another version: `cargo install --locked` into $CARGO_HOME/bin (~/.cargo/bin),
# about 3 minutes on 2 cores, once per machine.
#     mdbook=$(book/ensure-mdbook.sh) && "$mdbook" build book
set -euo pipefail

MDBOOK_VERSION=0.5.4   # the one version the book is built and checked with

want="mdbook v$MDBOOK_VERSION"
installed="${CARGO_HOME:-$HOME/.cargo}/bin/mdbook"
for candidate in "$(command -v mdbook || true)" "$installed"; do
    if [ -n "$candidate" ] && [ "$("$candidate" --version 2>/dev/null || true)" = "$want" ]; then
        echo "$candidate"
        exit 0
    fi
done

echo "installing $want with cargo (a few minutes, once)..." >&2
start=$(date +%s)
# Build in a scratch target dir of cargo's own, not the project's.
env -u CARGO_TARGET_DIR cargo install --locked --version "$MDBOOK_VERSION" mdbook >&2
echo "installed $want in $(($(date +%s) - start)) s" >&2
if [ "$("$installed" --version)" != "$want" ]; then
    echo "error: $installed is not $want after installing it" >&2
    exit 1
fi
echo "$installed"
