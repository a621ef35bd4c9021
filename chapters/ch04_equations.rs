//! Chapter 4: the equations, evaluated.
//!
//! Part 1 (§4.1): Eq. 4.1 computed by the engine beside the same numbers
//! computed by hand, a gradient check of the whole RNN, and the reason its
//! memory is short: the gradient ‖∂L_T/∂h_{T−k}‖ shrinks (or blows up) as it
//! travels k steps back through W.
//!
//!     cargo run --release --bin ch04

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::autograd::gradcheck::GradCheck;
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, main_with};
use shortmem::data::{Dataset, random_batch};
use shortmem::models::{Activation, Rnn};
use shortmem::plot::{self, Figure, Legend, Mark, Series};
use shortmem::train::{self, TrainConfig, TrainError};
use shortmem::{Graph, Tensor};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch04",
    about = "Chapter 4: Eq. 4.1 beside a hand computation, gradient checks, vanishing gradients"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Eq. 4.1 for a 3-token sequence, by the engine and by plain loops.
fn eq_4_1_by_hand(ch: &mut Chapter) -> f64 {
    // V = 3 tokens, H = 2; weights chosen to be easy to follow.
    let u = [[0.5, -0.3, 0.8], [0.1, 0.7, -0.6]];
    let w = [[0.4, -0.2], [0.3, 0.9]];
    let b = [0.05, -0.1];
    let v = [[1.0, -0.5], [0.2, 0.6], [-0.7, 0.3]];
    let c = [0.1, 0.0, -0.2];
    let tokens = [2usize, 0, 1];
    let mut rnn = Rnn::<f64>::new(3, 2, Activation::Tanh, &mut StdRng::seed_from_u64(0));
    rnn.u.value = Tensor::from_vec([2, 3], u.concat());
    rnn.w.value = Tensor::from_vec([2, 2], w.concat());
    rnn.b.value = Tensor::from_vec([2], b.to_vec());
    rnn.v.value = Tensor::from_vec([3, 2], v.concat());
    rnn.c.value = Tensor::from_vec([3], c.to_vec());
    let g = Graph::new();
    let out = rnn.forward(&g, &tokens, 1, 3, None);
    let y = out.logits.softmax().value();
    println!("   Eq. 4.1 on x = {tokens:?} (V = 3, H = 2): engine | by hand");
    println!(
        "   {:>2}  {:>24}  {:>24}  {:>38}  {:>38}",
        "t", "h_t (engine)", "h_t (hand)", "y_t (engine)", "y_t (hand)"
    );
    let mut h = [0.0f64; 2];
    let mut worst = 0.0f64;
    for (t, &x) in tokens.iter().enumerate() {
        // by hand: U x_t is column x of U, then W h_{t−1} + b, then tanh
        let pre: Vec<f64> = (0..2)
            .map(|i| u[i][x] + w[i][0] * h[0] + w[i][1] * h[1] + b[i])
            .collect();
        h = [pre[0].tanh(), pre[1].tanh()];
        let o: Vec<f64> = (0..3).map(|k| v[k][0] * h[0] + v[k][1] * h[1] + c[k]).collect();
        let z: f64 = o.iter().map(|a| a.exp()).sum();
        let y_hand: Vec<f64> = o.iter().map(|a| a.exp() / z).collect();
        let h_eng = out.hidden[t].value();
        let y_eng = &y.data()[t * 3..t * 3 + 3];
        for i in 0..2 {
            worst = worst.max((h_eng.data()[i] - h[i]).abs());
        }
        for k in 0..3 {
            worst = worst.max((y_eng[k] - y_hand[k]).abs());
        }
        let f = |v: &[f64]| {
            format!(
                "[{}]",
                v.iter().map(|x| format!("{x:.6}")).collect::<Vec<_>>().join(", ")
            )
        };
        println!(
            "   {:>2}  {:>24}  {:>24}  {:>38}  {:>38}",
            t + 1,
            f(h_eng.data()),
            f(&h),
            f(y_eng),
            f(&y_hand)
        );
    }
    println!("   largest difference: {worst:.1e}\n");
    ch.summary.record("eq 4.1 engine vs hand, max abs diff", worst);
    worst
}

/// The whole RNN's gradient against finite differences, parameter by parameter.
fn gradient_check(ch: &mut Chapter) -> Result<(), Box<dyn std::error::Error>> {
    let mut rnn = Rnn::<f64>::new(5, 4, Activation::Tanh, &mut StdRng::seed_from_u64(ch.args.seed));
    let ids = [0usize, 3, 1, 4, 2, 2, 1, 0, 4, 3, 3, 0];
    let targets = [3usize, 1, 4, 2, 2, 0, 0, 4, 3, 3, 0, 1];
    let report = GradCheck::default().check_module(&mut rnn, |m, g| {
        m.forward(g, &ids, 2, 6, None).logits.cross_entropy(&targets)
    })?;
    println!("   gradient check of Eq. 4.1 through 6 steps (2 sequences), f64, ε = 1e-6:\n");
    for line in report.to_string().lines() {
        println!("   {line}");
    }
    ch.summary.record("gradcheck elements", report.checked());
    ch.summary.record("gradcheck max rel err", report.max_rel_err());
    Ok(())
}

/// ‖∂L_T/∂h_{T−k}‖ for k = 0..len−1, averaged over sequences, where L_T is the
/// loss of the last prediction only. Measured in f64: the norms span many decades.
fn gradient_norms(rnn: &Rnn<f64>, data: &Dataset, len: usize, seqs: usize, seed: u64) -> Vec<f64> {
    let batch = random_batch(&data.val, seqs, len, &mut StdRng::seed_from_u64(seed));
    let g = Graph::<f64>::new();
    let out = rnn.forward(&g, &batch.inputs, seqs, len, None);
    for h in &out.hidden {
        g.retain_grad(*h);
    }
    let last: Vec<usize> = batch.targets.chunks(len).map(|r| r[len - 1]).collect();
    let v = rnn.vocab();
    let loss = out
        .logits
        .slice(1, len - 1, len)
        .reshape([seqs, v])
        .cross_entropy(&last);
    let grads = loss.backward();
    (0..len)
        .map(|k| {
            let h = out.hidden[len - 1 - k];
            let gh = grads.wrt(h).expect("retained");
            let hs = rnn.hidden_size();
            gh.data()
                .chunks(hs)
                .map(|row| row.iter().map(|x| x * x).sum::<f64>().sqrt())
                .sum::<f64>()
                / seqs as f64
        })
        .collect()
}

pub fn run(args: Args) -> ChapterResult {
    let quick = args.common.quick;
    let mut ch = Chapter::start("ch04", "The equations, evaluated", args.common, &[])?;
    let seed = ch.args.seed;
    eq_4_1_by_hand(&mut ch);
    gradient_check(&mut ch)?;

    // Vanishing (and exploding) gradients through time.
    let (name, data, _) = ch.dataset()?;
    let hidden = if quick { 32 } else { 128 };
    let steps = ch.args.steps.unwrap_or(if quick { 40 } else { 800 });
    let len = if quick { 41 } else { 101 };
    let mut series = Vec::new();
    println!("\n   ‖∂L_T/∂h_(T−k)‖ on {name}, H = {hidden}, mean over 16 sequences of {len} characters");
    let cols = [0, 10, len / 2, len - 1];
    print!("   {:<30}", "model");
    cols.iter().for_each(|k| print!(" {:>10}", format!("k = {k}")));
    println!();
    let mut report = |label: &str, norms: &[f64], color: usize, mark: Mark, ch: &mut Chapter| {
        print!("   {label:<30}");
        cols.iter().for_each(|&k| print!(" {:>10.2e}", norms[k]));
        println!();
        let at = |k: usize| norms[k];
        ch.summary.record(
            &format!("grad norm ratio k={}/k=0, {label}", len - 1),
            at(len - 1) / at(0),
        );
        let pts = norms.iter().enumerate().map(|(k, &n)| (k as f64, n)).collect();
        series.push(Series::line(label, pts).with_mark(mark).with_color(color));
    };
    for (i, f) in [Activation::Tanh, Activation::Relu].into_iter().enumerate() {
        let init = Rnn::<f32>::new(data.vocab_size(), hidden, f, &mut StdRng::seed_from_u64(seed));
        report(
            &format!("{f}, at initialisation"),
            &gradient_norms(&init.cast(), &data, len, 16, seed),
            i,
            Mark::Dashed,
            &mut ch,
        );
        for (j, clip) in [Some(1.0), None].into_iter().enumerate() {
            let label = format!(
                "{f}, trained, {}",
                if clip.is_some() {
                    "clipped at 1"
                } else {
                    "no clipping"
                }
            );
            let mut rnn = Rnn::<f32>::new(data.vocab_size(), hidden, f, &mut StdRng::seed_from_u64(seed));
            let mut cfg = TrainConfig::new(steps, 32, 64, 3e-3);
            cfg.clip = clip;
            cfg.seed = seed;
            cfg.label = format!("{f} {}", if clip.is_some() { "clip" } else { "noclip" });
            match train::train(&mut rnn, &data, &cfg) {
                Ok(h) => {
                    ch.summary
                        .record(&format!("val nats/char, {label}"), h.final_val());
                    let mark = if j == 0 { Mark::Line } else { Mark::LinePoints };
                    report(
                        &label,
                        &gradient_norms(&rnn.cast(), &data, len, 16, seed),
                        i,
                        mark,
                        &mut ch,
                    );
                }
                Err(e @ (TrainError::NonFiniteLoss { .. } | TrainError::NonFiniteGradient { .. })) => {
                    println!("   {label:<30} diverged: {e}");
                    ch.summary.record(&label, format!("diverged: {e}"));
                }
            }
        }
    }
    let fig = Figure::new(
        "How far back the gradient reaches: ‖∂L_T/∂h_(T−k)‖",
        "k (steps back from the last prediction)",
        "gradient norm (log scale)",
        &ch.caption(),
    )
    .log_y()
    .legend(Legend::Outside);
    plot::lines(ch.figure("vanishing_gradient.svg"), &fig, &series)?;
    ch.summary.finding(
        "Each step back multiplies the gradient by W and by f' (the Jacobian of Eq. 4.1); the figure shows how fast \
         that product shrinks with tanh and how ReLU can let it grow."
            .to_string(),
    );
    ch.finish()
}

#[allow(dead_code)]
fn main() {
    main_with(run)
}
