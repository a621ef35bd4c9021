//! `cargo run --release --bin ch05`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch05::PROGRAM);
}
