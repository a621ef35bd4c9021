//! `cargo run --release --bin ch03`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch03::PROGRAM);
}
