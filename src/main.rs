//! `cargo run --release`: the tour. Runs every chapter in order with its default
//! settings (the very runs whose figures the book shows), then sums up what each
//! one found and where its figures are.
//!
//! `cargo run --release -- --quick` runs the same tour as a smoke test in seconds.

use clap::Parser;
use shortmem::chapter::CommonArgs;
use shortmem::chapters;
use std::error::Error;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "shortmem",
    about = "The shortmem tour: every chapter in order, then a summary of what each one found",
    mut_arg("steps", |a| a.help("Training steps for every chapter [default: each chapter's own: ch01 1000, ch02 800, ch03 1000, ch04 800, ch05 2000, ch06 400]"))
)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() {
    if let Err(e) = shortmem::chapter::check_environment() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    if let Err(e) = tour(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn tour(args: Args) -> Result<(), Box<dyn Error>> {
    println!("shortmem: how language models remember what came before\n");
    let started = Instant::now();
    if !args.common.quick {
        println!(
            "(the tour takes about 10 minutes on the 2-vCPU machine of the book's measurement appendix, the sum of its chapters; --quick about a minute)
"
        );
    }
    // Each chapter with its own defaults and the tour's common flags, as
    // `cargo run --release --bin chNN -- <flags>` would run it.
    let mut done = Vec::new();
    for program in chapters::ALL {
        done.push((program.run)(args.common.to_words(program.id))?);
        println!();
    }
    println!(
        "================ what the tour found ({:.0} s) ================",
        started.elapsed().as_secs_f64()
    );
    for s in &done {
        println!("\n{} · {}", s.chapter, s.title);
        for f in s.all_findings() {
            println!("  * {f}");
        }
        if let Some(dir) = s.figures.first().and_then(|p| p.parent()) {
            println!("  figures: {}", dir.display());
        }
    }
    println!("\nRead the book alongside: book/src (build it with `mdbook build book`).");
    Ok(())
}
