//! `cargo run --release --bin ch06`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch06::PROGRAM);
}
