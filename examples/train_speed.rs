//! Training throughput of the §5 TransformerLM: tokens per second for forward,
//! loss, backward and the AdamW step on random tokens, through the same training
//! loop as the chapters (one data-parallel shard per thread), for the three
//! sizes the README compares with PyTorch (`tools/torch_speed.py`).
//!
//!     cargo run --release --example train_speed -- 1     # one thread
//!     cargo run --release --example train_speed -- 2     # two threads
//!
//!     cargo run --release --example train_speed -- 2 small --profile   # where the time goes
//!     cargo run --release --example train_speed -- 1 rnn      # the §4.1 RNN (tools/torch_rnn_speed.py)
//!     cargo run --release --example train_speed -- 2 shakespeare --profile   # the README's Tiny Shakespeare model
//!
//! Each configuration runs 3 warm-up steps, then reports the median of the
//! timed steps (the machine must be otherwise idle) and the model FLOPs
//! utilisation: tokens/s × FLOPs per token
//! ([`TransformerConfig::training_flops_per_token`]) over the FMA peak of the
//! cores in use, measured at start-up. With `--profile`, the
//! timed steps run under the profiler ([`shortmem::autograd::profile`]) and
//! its table follows, per step.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::Module;
use shortmem::data::Batch;
use shortmem::models::{Activation, LanguageModel, Rnn, TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::train::{TrainConfig, fit};

fn main() {
    let usage = "usage: train_speed [THREADS [tiny|small|medium|shakespeare|rnn]] [--profile]";
    let threads: usize = match std::env::args().nth(1) {
        None => 1,
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("train_speed: THREADS must be a whole number ≥ 1, got {s:?}\n{usage}");
                std::process::exit(2);
            }
        },
    };
    let words: Vec<String> = std::env::args().skip(2).collect();
    let profiling = words.iter().any(|w| w == "--profile");
    let named: Vec<String> = words.into_iter().filter(|w| w != "--profile").collect();
    if named.len() > 1 {
        eprintln!("train_speed: one configuration at most, got {named:?}\n{usage}");
        std::process::exit(2);
    }
    let only = named.into_iter().next();
    if let Some(o) = only
        .as_deref()
        .filter(|o| !["tiny", "small", "medium", "shakespeare", "rnn"].contains(o))
    {
        eprintln!(
            "train_speed: unknown configuration {o:?} (expected tiny, small, medium, shakespeare or rnn)\n{usage}"
        );
        std::process::exit(2);
    }
    shortmem::threads::set_threads(threads);
    // (name, vocab, dim, heads, ff, layers, context, batch, timed steps); the
    // last is the README's Tiny Shakespeare run (65 characters), timed only
    // when named.
    let configs = [
        ("tiny", 64, 64, 4, 256, 2, 64, 16, 40),
        ("small", 96, 128, 4, 512, 4, 128, 16, 15),
        ("medium", 256, 256, 8, 1024, 6, 256, 8, 6),
        ("shakespeare", 65, 128, 4, 512, 4, 64, 12, 40),
    ];
    let kernel = shortmem::kernels::selected();
    // MFU: the model's FLOPs per second over the FMA peak of the cores in use.
    let peak = shortmem::kernels::fma_peak_gflops(kernel).map(|p| p * threads as f64);
    println!(
        "threads: {threads}, kernel: {kernel}, FMA peak {}",
        peak.map_or("unknown".to_string(), |p| format!("{p:.1} GFLOP/s"))
    );
    println!(
        "{:<11} {:>12} {:>12} {:>14} {:>8}",
        "config", "params", "ms/step", "tokens/s", "MFU"
    );
    if only.as_deref() == Some("rnn") {
        rnn(profiling);
        return;
    }
    for (name, vocab, dim, heads, ff, layers, context, batch, steps) in configs {
        let wanted = match only.as_deref() {
            Some(o) => o == name,
            None => name != "shakespeare",
        };
        if !wanted {
            continue;
        }
        let config = TransformerConfig {
            vocab_size: vocab,
            embed_dim: dim,
            num_heads: heads,
            ff_dim: ff,
            num_layers: layers,
            context,
            causal: true,
        };
        let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(0));
        let flops = peak.map(|p| (config.training_flops_per_token(), p));
        time_training(name, &mut model, (vocab, batch, context), steps, profiling, flops);
    }
}

/// The §4.1 RNN (V 64, H 128, T 64, B 16) on random tokens, as
/// `tools/torch_rnn_speed.py` times it in PyTorch.
fn rnn(profiling: bool) {
    let (vocab, hidden, time, batch, steps) = (64, 128, 64, 16, 40);
    let mut model = Rnn::<f32>::new(vocab, hidden, Activation::Tanh, &mut StdRng::seed_from_u64(0));
    time_training("rnn", &mut model, (vocab, batch, time), steps, profiling, None);
}

/// Trains `model` for 3 warm-up and `steps` timed steps on random tokens
/// (`vocab`, `batch` sequences of `time`), then prints its row of the table
/// (and, when profiling, where the time went). `flops`: the model's FLOPs per
/// training token and the peak GFLOP/s of the threads, for its MFU.
fn time_training<M: LanguageModel + Module<f32> + Sync>(
    name: &str,
    model: &mut M,
    (vocab, batch, time): (usize, usize, usize),
    steps: usize,
    profiling: bool,
    flops: Option<(f64, f64)>,
) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut cfg = TrainConfig::new(steps + 3, batch, time, 1e-3);
    cfg.progress = false;
    cfg.eval_every = usize::MAX;
    if profiling {
        shortmem::autograd::profile::start();
    }
    let history = fit(
        model,
        &mut AdamW::nanogpt(1e-3),
        &cfg,
        |_| {
            let mut random = || (0..batch * time).map(|_| rng.random_range(0..vocab)).collect();
            (
                Batch {
                    inputs: random(),
                    targets: random(),
                    batch,
                    time,
                },
                true,
            )
        },
        |m, g, b, _: &mut ()| m.logits(g, b).cross_entropy(&b.targets),
        |_| f64::NAN,
    )
    .expect("random tokens train without trouble");
    let median = history.median_step_seconds(3);
    let tokens_per_second = (batch * time) as f64 / median;
    let mfu = flops.map_or("—".to_string(), |(per_token, peak)| {
        format!("{:.1}%", 100.0 * tokens_per_second * per_token / 1e9 / peak)
    });
    println!(
        "{name:<11} {:>12} {:>12.2} {:>14.0} {mfu:>8}",
        model.num_params(),
        median * 1e3,
        tokens_per_second
    );
    if profiling {
        // (The 3 warm-up steps are in the totals too: steps + 3 in all.)
        let rows = shortmem::autograd::profile::stop();
        for line in shortmem::autograd::profile::table(&rows, steps + 3, 0.002) {
            println!("    {line}");
        }
    }
}
