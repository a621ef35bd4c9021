//! `cargo run --release --example spirals`: the engine on its own.
//!
//! A two-layer perceptron learns to tell apart three interleaved spirals,
//! trained with AdamW on the tape-based autograd; then its decision boundary,
//! the line where its answer changes from one arm to the next, is drawn over
//! the points in `target/spirals/decision_boundary.svg`.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::nn::Linear;
use shortmem::optim::{AdamW, Optimizer};
use shortmem::plot::{self, Figure, Legend, Mark, Series};
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

type Mlp = (Linear<f32>, Linear<f32>);

/// The class the model picks for each row of `x`.
fn classify(model: &Mlp, x: &Tensor) -> Vec<usize> {
    let g = Graph::inference();
    let logits = model
        .1
        .forward(&g, model.0.forward(&g, g.constant(x.clone())).tanh())
        .value();
    logits.data().chunks(3).map(argmax).collect()
}

/// The decision boundary on a `n × n` grid over [−1.1, 1.1]²: the grid points
/// whose class differs from that of their right or upper neighbour.
fn boundary(model: &Mlp, n: usize) -> Vec<(f64, f64)> {
    let at = |i: usize| -1.1 + 2.2 * i as f64 / (n - 1) as f64;
    let grid: Vec<f32> = (0..n * n)
        .flat_map(|k| [at(k % n) as f32, at(k / n) as f32])
        .collect();
    let class = classify(model, &Tensor::from_vec([n * n, 2], grid));
    let mut points = Vec::new();
    for row in 0..n {
        for col in 0..n {
            let here = class[row * n + col];
            let right = col + 1 < n && class[row * n + col + 1] != here;
            let up = row + 1 < n && class[(row + 1) * n + col] != here;
            if right || up {
                points.push((at(col), at(row)));
            }
        }
    }
    points
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(0);
    let (x, y) = spirals(100);
    let l1 = Linear::<f32>::new("0", 2, 64, &mut rng);
    let l2 = Linear::<f32>::new("2", 64, 3, &mut rng);
    let mut model = (l1, l2);
    let mut opt = AdamW::new(0.01);
    println!("spirals: a 2-layer MLP (2 → 64 → 3) learns three spirals with AdamW\n");
    println!("{:>6}  {:>8}  {:>8}", "step", "loss", "accuracy");
    let mut accuracy = 0.0;
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
            accuracy = 100.0 * correct as f64 / y.len() as f64;
            println!("{step:>6}  {:>8.4}  {accuracy:>7.1}%", loss.item());
        }
        let grads = loss.backward();
        let mut params = model.0.params_mut();
        params.extend(model.1.params_mut());
        grads.assign(&mut params);
        opt.step(&mut params);
    }

    // The points of each arm, and where the trained model's answer changes.
    let mut series: Vec<Series> = (0..3)
        .map(|class| {
            let points = x
                .data()
                .chunks(2)
                .zip(&y)
                .filter(|(_, t)| **t == class)
                .map(|(p, _)| (p[0] as f64, p[1] as f64))
                .collect();
            Series::line(&format!("arm {}", class + 1), points)
                .with_mark(Mark::Points)
                .with_color(class)
        })
        .collect();
    series.push(
        Series::line("decision boundary", boundary(&model, 160))
            .with_mark(Mark::Points)
            .with_color(3),
    );
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spirals");
    std::fs::create_dir_all(&out)?;
    let path = out.join("decision_boundary.svg");
    let fig = Figure::new(
        &format!("Three spirals and the MLP's decision boundary ({accuracy:.0} % of the points right)"),
        "x",
        "y",
        "made by: cargo run --release --example spirals",
    )
    .legend(Legend::Outside);
    plot::lines(&path, &fig, &series)?;
    println!("\nthe decision boundary: {}", path.display());
    Ok(())
}
