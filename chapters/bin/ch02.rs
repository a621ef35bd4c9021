//! `cargo run --release --bin ch02`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch02::PROGRAM);
}
