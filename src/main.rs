//! `cargo run --release`: the tour. Runs every chapter in order with its default
//! settings (the very runs whose figures the book shows), then sums up what each
//! one found and where its figures are.
//!
//! `cargo run --release -- --quick` runs the same tour as a smoke test in seconds.

use clap::Parser;
use shortmem::chapter::{CommonArgs, Summary};
use std::error::Error;
use std::time::Instant;

#[path = "../chapters/ch01_background.rs"]
#[allow(dead_code)]
mod ch01;
#[path = "../chapters/ch03_algorithms.rs"]
#[allow(dead_code)]
mod ch03;
#[path = "../chapters/ch04_equations.rs"]
#[allow(dead_code)]
mod ch04;
#[path = "../chapters/ch05_code.rs"]
#[allow(dead_code)]
mod ch05;

#[derive(Parser, Debug)]
#[command(
    name = "shortmem",
    about = "The shortmem tour: every chapter in order, then a summary of what each one found"
)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

fn main() {
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
            "(the full tour took about 5 minutes on the 2-vCPU machine of the README; --quick about 30 seconds)\n"
        );
    }
    // Each chapter with its own defaults, as `cargo run --release --bin chNN` would.
    let common = |bin: &str| {
        let mut c = args.common.clone();
        c.out = args.common.out.as_ref().map(|o| o.join(bin));
        c
    };
    let mut done: Vec<Summary> = Vec::new();
    done.push(ch01::run(ch01::Args {
        common: common("ch01"),
        ..ch01::Args::parse_from(["ch01"])
    })?);
    println!();
    done.push(ch03::run(ch03::Args {
        common: common("ch03"),
        ..ch03::Args::parse_from(["ch03"])
    })?);
    println!();
    done.push(ch04::run(ch04::Args {
        common: common("ch04"),
    })?);
    println!();
    done.push(ch05::run(ch05::Args {
        common: common("ch05"),
        ..ch05::Args::parse_from(["ch05"])
    })?);
    println!(
        "\n================ what the tour found ({:.0} s) ================",
        started.elapsed().as_secs_f64()
    );
    for s in &done {
        println!("\n{} · {}", s.chapter, s.title);
        for f in &s.findings {
            println!("  * {f}");
        }
        if let Some(dir) = s.figures.first().and_then(|p| p.parent()) {
            println!("  figures: {}", dir.display());
        }
    }
    println!("\nRead the book alongside: book/src (build it with `mdbook build book`).");
    Ok(())
}
