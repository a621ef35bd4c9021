#!/usr/bin/env bash
# Builds the crate for aarch64 and runs the NEON kernel's check under emulation:
#
#   tools/check_aarch64.sh
#
# It installs what it needs from Debian's packages (once): Debian's Rust
# (rustc-web, cargo-web, which bring their own /usr/bin/rustc and cargo; the
# rustup toolchain stays first on PATH), the aarch64 standard library
# (libstd-rust-web-dev:arm64), the aarch64 linker and C library
# (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) and
# qemu-user. Then it cross-builds the library, compiles tools/neon_check.rs
# against it, and runs that under qemu-aarch64. About 3 minutes on 2 cores the
# first time, most of it building the dependencies for aarch64.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
rustc=/usr/bin/rustc
cargo=/usr/bin/cargo

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo > /dev/null; then sudo="sudo"; else sudo=none; fi
have() { dpkg -s "$1" > /dev/null 2>&1; }
missing=()
for pkg in rustc-web cargo-web gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libstd-rust-web-dev:arm64; do
    have "$pkg" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$sudo" = none ]; then
        echo "error: installing ${missing[*]} needs root (or sudo); install them, then run $0 again" >&2
        exit 1
    fi
    echo "installing ${missing[*]} (Debian packages, once)"
    dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

export CARGO_TARGET_DIR=target/aarch64-check
export RUSTC=$rustc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
"$cargo" build --quiet --release --locked --lib --target "$target"

# The library's dependencies: built for aarch64, and (proc macros) for this machine.
check=$CARGO_TARGET_DIR/neon_check
"$rustc" --edition 2024 -O --target "$target" -C linker=aarch64-linux-gnu-gcc \
    -o "$check" tools/neon_check.rs \
    --extern shortmem="$CARGO_TARGET_DIR/$target/release/libshortmem.rlib" \
    -L dependency="$CARGO_TARGET_DIR/$target/release/deps" -L dependency="$CARGO_TARGET_DIR/release/deps"
file "$check" 2> /dev/null | grep -q aarch64 || { echo "error: $check is not an aarch64 program" >&2; exit 1; }
qemu-aarch64 -L /usr/aarch64-linux-gnu "$check"
