//! `cargo run --release --bin ch01`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch01::PROGRAM);
}
