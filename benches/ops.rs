//! Engine overhead: one tiny op (forward + backward on 1-element tensors) and
//! one training step of a small MLP; and the fused attention op at the medium
//! model's shape, with and without the causal mask.
//!
//!     cargo bench --bench ops

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::nn::Linear;
use shortmem::optim::{AdamW, Optimizer};
use shortmem::{Graph, Module, Tensor};
use std::hint::black_box;

fn tiny_ops(c: &mut Criterion) {
    let x = Tensor::<f32>::scalar(0.5);
    // Everything one op costs: a graph, a leaf, the op, and the backward sweep.
    c.bench_function("tiny_op/graph+leaf+mul+backward", |bench| {
        bench.iter(|| {
            let g = Graph::new();
            let a = g.input(black_box(x.clone()));
            let y = a * a;
            black_box(y.backward());
        })
    });
    // The marginal cost of one more op: 100 ops on one tape, forward and backward.
    c.bench_function("tiny_op/chain_of_100_tanh_fwd+bwd", |bench| {
        bench.iter(|| {
            let g = Graph::new();
            let mut a = g.input(black_box(x.clone()));
            for _ in 0..100 {
                a = a.tanh();
            }
            black_box(a.backward());
        })
    });
}

fn mlp_step(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut l1 = Linear::<f32>::new("0", 32, 128, &mut rng);
    let mut l2 = Linear::<f32>::new("2", 128, 10, &mut rng);
    let x = Tensor::<f32>::randn([64, 32], 0.0, 1.0, &mut rng);
    let y: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut opt = AdamW::new(1e-3);
    c.bench_function("mlp_step/64x32-128-10_fwd+bwd+adamw", |bench| {
        bench.iter(|| {
            let g = Graph::new();
            let h = l1.forward(&g, g.constant(x.clone())).relu();
            let loss = l2.forward(&g, h).cross_entropy(&y);
            let grads = loss.backward();
            drop(g);
            let mut params = l1.params_mut();
            params.extend(l2.params_mut());
            grads.assign(&mut params);
            opt.step(&mut params);
        })
    });
}

fn attention(c: &mut Criterion) {
    // The medium model of the README's speed table: 8 sequences of 256 tokens,
    // D = 256 in 8 heads of 32, packed projections [B, T, 3D].
    let qkv = Tensor::<f32>::randn([8, 256, 3 * 256], 0.0, 1.0, &mut StdRng::seed_from_u64(1));
    let mut group = c.benchmark_group("attention/8x256x256_8_heads_fwd+bwd");
    group.sample_size(20);
    for causal in [true, false] {
        let name = if causal { "causal" } else { "full" };
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let g = Graph::new();
                let x = g.input(black_box(qkv.clone()));
                let y = x.attention(8, causal).sum();
                black_box(y.backward());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, tiny_ops, mlp_step, attention);
criterion_main!(benches);
