//! `cargo run --release --bin ch07`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch07::PROGRAM);
}
