//! `cargo run --release --example spirals`: the engine on its own.
//!
//! A two-layer perceptron learns to tell apart three interleaved spirals,
//! trained with AdamW on the tape-based autograd.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::nn::Linear;
use shortmem::optim::{AdamW, Optimizer};
use shortmem::sample::argmax;
use shortmem::{Graph, Module, Tensor};

/// Three spiral arms in the plane, `n` points each: inputs `[3n, 2]`, labels 0..3.
fn spirals(n: usize) -> (Tensor, Vec<usize>) {
    let mut xs = Vec::with_capacity(3 * n * 2);
    let mut ys = Vec::with_capacity(3 * n);
    for class in 0..3 {
        for i in 0..n {
            let r = i as f32 / n as f32;
            let angle = class as f32 * 2.094 + 4.0 * r + 0.2 * ((i * 7919 % 13) as f32 / 13.0 - 0.5);
            xs.extend([r * angle.sin(), r * angle.cos()]);
            ys.push(class);
        }
    }
    (Tensor::from_vec([3 * n, 2], xs), ys)
}

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let (x, y) = spirals(100);
    let l1 = Linear::<f32>::new("0", 2, 64, &mut rng);
    let l2 = Linear::<f32>::new("2", 64, 3, &mut rng);
    let mut model = (l1, l2);
    let mut opt = AdamW::new(0.01);
    println!("shortmem tour: a 2-layer MLP (2 → 64 → 3) learns three spirals with AdamW\n");
    println!("{:>6}  {:>8}  {:>8}", "step", "loss", "accuracy");
    for step in 0..=600 {
        let g = Graph::new();
        let logits = model
            .1
            .forward(&g, model.0.forward(&g, g.constant(x.clone())).tanh());
        let loss = logits.cross_entropy(&y);
        if step % 100 == 0 {
            let l = logits.value();
            let correct = l
                .data()
                .chunks(3)
                .zip(&y)
                .filter(|(row, t)| argmax(row) == **t)
                .count();
            println!(
                "{step:>6}  {:>8.4}  {:>7.1}%",
                loss.item(),
                100.0 * correct as f64 / y.len() as f64
            );
        }
        let grads = loss.backward();
        let mut params = model.0.params_mut();
        params.extend(model.1.params_mut());
        grads.assign(&mut params);
        opt.step(&mut params);
    }
}
