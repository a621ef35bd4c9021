//! Training throughput of the §5 TransformerLM: tokens per second for forward,
//! loss, backward and the AdamW step on random tokens, for the three sizes the
//! README compares with PyTorch.
//!
//!     cargo run --release --example train_speed -- 1     # one thread
//!     cargo run --release --example train_speed -- 2     # two threads
//!
//! Each configuration runs 3 warm-up steps, then reports the median time of
//! the timed steps (the machine must be otherwise idle).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::models::{TransformerConfig, TransformerLM};
use shortmem::optim::{AdamW, Optimizer};
use shortmem::{Graph, Module};
use std::time::Instant;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .map_or(1, |s| s.parse().expect("threads: a number"));
    let only: Option<String> = std::env::args().nth(2);
    shortmem::kernels::set_threads(threads);
    // (name, vocab, dim, heads, ff, layers, context, batch, timed steps)
    let configs = [
        ("tiny", 64, 64, 4, 256, 2, 64, 16, 40),
        ("small", 96, 128, 4, 512, 4, 128, 16, 15),
        ("medium", 256, 256, 8, 1024, 6, 256, 8, 6),
    ];
    println!("threads: {threads}, kernel: {}", shortmem::kernels::selected());
    println!(
        "{:<8} {:>12} {:>12} {:>14}",
        "config", "params", "ms/step", "tokens/s"
    );
    for (name, vocab, dim, heads, ff, layers, context, batch, steps) in configs {
        if only.as_deref().is_some_and(|o| o != name) {
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
        let mut rng = StdRng::seed_from_u64(0);
        let mut model = TransformerLM::<f32>::new(config, &mut rng);
        let mut opt = AdamW::new(1e-3);
        let mut times = Vec::new();
        for step in 0..steps + 3 {
            let ids: Vec<usize> = (0..batch * context).map(|_| rng.random_range(0..vocab)).collect();
            let targets: Vec<usize> = (0..batch * context).map(|_| rng.random_range(0..vocab)).collect();
            let start = Instant::now();
            let g = Graph::new();
            let loss = model.forward(&g, &ids, batch, context).cross_entropy(&targets);
            let grads = loss.backward();
            drop(g);
            let mut params = model.params_mut();
            grads.assign(&mut params);
            opt.step(&mut params);
            if step >= 3 {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "{name:<8} {:>12} {:>12.2} {:>14.0}",
            model.num_params(),
            median * 1e3,
            (batch * context) as f64 / median
        );
    }
}
