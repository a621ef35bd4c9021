//! `cargo run --release --example layer_products [small|medium]`: the three
//! matrix products of each `Linear` layer of the §5 model, timed on their own.
//!
//! A layer y = x·Wᵀ (x: `rows × in`, W: `out × in`) costs three products in a
//! training step, each of 2·rows·in·out flops:
//!
//! * forward: y = x·Wᵀ;
//! * the input's gradient: dX = dY·W;
//! * the weight's gradient: dW = dYᵀ·X, whose A is stored transposed and
//!   whose k runs over all the rows of the batch.
//!
//! A second table times a forward product of only 48 rows, where packing B is
//! most of the work, with W stored as a layer stores it (so that the product
//! reads it transposed) and stored the other way round.
//!
//! The third table times the feed-forward's first layer whole, y =
//! ReLU(x·Wᵀ + b): the product followed by a second pass over y for the bias
//! and the ReLU, against the kernels applying them to each tile of y as it is
//! finished (`sgemm_then`).
//!
//! Each is timed on one thread in 15 rounds of 5 calls, and the best round is
//! printed, in GFLOP/s and as a share of the FMA peak: on a shared VM the
//! other rounds measure the neighbours as much as the kernel. (The training
//! step itself is timed by `train_speed`, in medians.)

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::kernels::{self, Epilogue, Gemm, sgemm, sgemm_then};
use std::time::Instant;

/// Seconds of one call of `f`: the best of 15 rounds of 5 calls, after one.
fn best_secs(mut f: impl FnMut()) -> f64 {
    f();
    (0..15)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..5 {
                f();
            }
            started.elapsed().as_secs_f64() / 5.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn uniform(len: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn main() {
    let config = std::env::args().nth(1).unwrap_or_else(|| "small".to_string());
    // (rows = B·T, model width D, feed-forward width F) as `train_speed` sets them.
    let (rows, d, f) = match config.as_str() {
        "small" => (16 * 128, 128, 512),
        "medium" => (8 * 256, 256, 1024),
        other => {
            eprintln!("layer_products: unknown configuration {other:?}: expected small or medium");
            std::process::exit(2);
        }
    };
    shortmem::threads::set_threads(1);
    let kernel = kernels::selected();
    let peak = kernels::fma_peak_gflops(kernel);
    println!(
        "{config}: the layers' products on 1 thread, kernel {kernel}, FMA peak {}",
        peak.map_or("unknown".to_string(), |p| format!("{p:.1} GFLOP/s"))
    );
    println!(
        "{:<30} {:>16} {:>16} {:>16}",
        "layer (rows×in→out)", "y = x·Wᵀ", "dX = dY·W", "dW = dYᵀ·X"
    );
    let layers = [
        ("attention in", d, 3 * d),
        ("attention out", d, d),
        ("feed-forward in", d, f),
        ("feed-forward out", f, d),
    ];
    let mut rng = StdRng::seed_from_u64(0);
    for (name, inputs, outputs) in layers {
        let x = uniform(rows * inputs, &mut rng);
        let w = uniform(outputs * inputs, &mut rng);
        let dy = uniform(rows * outputs, &mut rng);
        let (mut y, mut dx, mut dw) = (
            vec![0.0; rows * outputs],
            vec![0.0; rows * inputs],
            vec![0.0; outputs * inputs],
        );
        let forward = Gemm::new(rows, outputs, inputs).transpose_b();
        let input_grad = Gemm::new(rows, inputs, outputs);
        let weight_grad = Gemm::new(outputs, inputs, rows).transpose_a();
        let secs = [
            best_secs(|| sgemm(&forward, &x, &w, &mut y)),
            best_secs(|| sgemm(&input_grad, &dy, &w, &mut dx)),
            best_secs(|| sgemm(&weight_grad, &dy, &x, &mut dw)),
        ];
        let flops = 2.0 * (rows * inputs * outputs) as f64;
        let cells: Vec<String> = secs
            .iter()
            .map(|s| {
                let g = flops / s / 1e9;
                match peak {
                    Some(p) => format!("{g:.1} ({:.0} %)", 100.0 * g / p),
                    None => format!("{g:.1}"),
                }
            })
            .collect();
        println!(
            "{:<30} {:>16} {:>16} {:>16}",
            format!("{name} {rows}×{inputs}→{outputs}"),
            cells[0],
            cells[1],
            cells[2]
        );
    }
    // Few rows: the copy of B into panels is most of the product.
    println!(
        "\n{:<30} {:>18} {:>16}",
        "48 rows (rows×in→out)", "B read transposed", "B as stored"
    );
    for (inputs, outputs) in [(d, f), (f, d)] {
        let rows = 48;
        let x = uniform(rows * inputs, &mut rng);
        let w = uniform(outputs * inputs, &mut rng);
        let mut y = vec![0.0; rows * outputs];
        let flops = 2.0 * (rows * inputs * outputs) as f64;
        let read_transposed = Gemm::new(rows, outputs, inputs).transpose_b();
        let as_stored = Gemm::new(rows, outputs, inputs);
        let g = |secs: f64| format!("{:.1}", flops / secs / 1e9);
        println!(
            "{:<30} {:>16} {:>16}",
            format!("{rows}×{inputs}→{outputs}"),
            g(best_secs(|| sgemm(&read_transposed, &x, &w, &mut y))),
            g(best_secs(|| sgemm(&as_stored, &x, &w, &mut y)))
        );
    }
    // The feed-forward's first layer with its bias and ReLU.
    println!(
        "\n{:<30} {:>18} {:>16}",
        "ReLU(x·Wᵀ + b) (rows×in→out)", "then a pass over y", "in the product"
    );
    let x = uniform(rows * d, &mut rng);
    let w = uniform(f * d, &mut rng);
    let bias = uniform(f, &mut rng);
    let mut y = vec![0.0; rows * f];
    let forward = Gemm::new(rows, f, d).transpose_b();
    let epilogue = Epilogue {
        bias: Some(&bias),
        relu: true,
    };
    let flops = 2.0 * (rows * d * f) as f64;
    let g = |secs: f64| format!("{:.1}", flops / secs / 1e9);
    let after = best_secs(|| {
        sgemm(&forward, &x, &w, &mut y);
        y.chunks_mut(f).for_each(|row| epilogue.apply(row, 0));
    });
    let inside = best_secs(|| sgemm_then(&forward, epilogue, &x, &w, &mut y));
    println!(
        "{:<30} {:>18} {:>16}",
        format!("{rows}×{d}→{f}"),
        g(after),
        g(inside)
    );
}
