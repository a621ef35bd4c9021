//! `cargo run --release --bin ch04`: see `chapters/`.

fn main() {
    shortmem::chapter::main(&shortmem::chapters::ch04::PROGRAM);
}
