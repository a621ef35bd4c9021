//! Chapter 4: the equations, evaluated.
//!
//! Eq. 4.1 and Eq. 4.2 computed by the engine beside the same numbers computed
//! with plain loops, a gradient check of each whole model, then the reason the
//! RNN's memory is short: the gradient ‖∂L_T/∂h_{T−k}‖ shrinks (or grows) at
//! every step it travels back through W, while attention reaches back directly.
//! Both models are trained alike on the corpus.
//!
//!     cargo run --release --bin ch04

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::autograd::gradcheck::GradCheck;
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, Transcript, main_with};
use shortmem::data::{Dataset, random_batch};
use shortmem::models::{Activation, Eq42, Eq42Config, Rnn};
use shortmem::optim::AdamW;
use shortmem::plot::{self, Figure, Legend, Mark, Series};
use shortmem::train::{self, TrainConfig, TrainError};
use shortmem::{Graph, Tensor, Var};

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
fn eq_4_1_by_hand(ch: &mut Chapter, tr: &mut Transcript) -> f64 {
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
    tr.anchor("eq_4_1_by_hand");
    tr.say(format!(
        "Eq. 4.1 on x = {tokens:?} (V = 3, H = 2): engine | by hand"
    ));
    tr.say(format!(
        "{:>2}  {:>24}  {:>24}  {:>38}  {:>38}",
        "t", "h_t (engine)", "h_t (hand)", "y_t (engine)", "y_t (hand)"
    ));
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
        tr.say(format!(
            "{:>2}  {:>24}  {:>24}  {:>38}  {:>38}",
            t + 1,
            f(h_eng.data()),
            f(&h),
            f(y_eng),
            f(&y_hand)
        ));
    }
    tr.say(format!("largest difference: {worst:.1e}"));
    tr.end("eq_4_1_by_hand");
    tr.say("");
    ch.summary.record("eq 4.1 engine vs hand, max abs diff", worst);
    worst
}

/// The whole RNN's gradient against finite differences, parameter by parameter.
fn gradient_check(ch: &mut Chapter, tr: &mut Transcript) -> Result<(), Box<dyn std::error::Error>> {
    let mut rnn = Rnn::<f64>::new(5, 4, Activation::Tanh, &mut StdRng::seed_from_u64(ch.args.seed));
    let ids = [0usize, 3, 1, 4, 2, 2, 1, 0, 4, 3, 3, 0];
    let targets = [3usize, 1, 4, 2, 2, 0, 0, 4, 3, 3, 0, 1];
    let report = GradCheck::default().check_module(&mut rnn, |m, g| {
        m.forward(g, &ids, 2, 6, None).logits.cross_entropy(&targets)
    })?;
    tr.anchor("eq_4_1");
    tr.say("gradient check of Eq. 4.1 through 6 steps (2 sequences), f64, ε = 1e-6:");
    for line in report.to_string().lines() {
        tr.say(line);
    }
    tr.end("eq_4_1");
    ch.summary.record("gradcheck elements", report.checked());
    ch.summary.record("gradcheck max rel err", report.max_rel_err());
    Ok(())
}

/// The loss of the last prediction of every sequence only: L_T.
fn last_loss<'g>(logits: Var<'g, f64>, targets: &[usize], seqs: usize, len: usize) -> Var<'g, f64> {
    let v = logits.shape().last();
    let last: Vec<usize> = targets.chunks(len).map(|r| r[len - 1]).collect();
    logits
        .slice(1, len - 1, len)
        .reshape([seqs, v])
        .cross_entropy(&last)
}

/// The mean of the rows' Euclidean norms.
fn mean_norm<'a>(rows: impl ExactSizeIterator<Item = &'a [f64]>) -> f64 {
    let n = rows.len().max(1) as f64;
    rows.map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
        .sum::<f64>()
        / n
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
    let grads = last_loss(out.logits, &batch.targets, seqs, len).backward();
    let hs = rnn.hidden_size();
    (0..len)
        .map(|k| {
            mean_norm(
                grads
                    .wrt(out.hidden[len - 1 - k])
                    .expect("retained")
                    .data()
                    .chunks(hs),
            )
        })
        .collect()
}

/// Eq. 4.2 on a 3-token example: each equation by the engine and by plain loops.
fn eq_4_2_by_hand(ch: &mut Chapter, tr: &mut Transcript) -> f64 {
    let cfg = Eq42Config {
        vocab_size: 5,
        d_model: 4,
        d_k: 3,
        d_ff: 6,
        context: 8,
    };
    let m = Eq42::<f64>::new(cfg, &mut StdRng::seed_from_u64(ch.args.seed + 42));
    let ids = [4usize, 1, 3];
    let (t, dm, dk, df, nv) = (3, 4, 3, 6, 5);
    let g = Graph::new();
    let eq = m.trace(&g, &ids, 1, t);
    // Row-major [r×k]·[k×c] as three loops.
    let mm = |a: &[f64], b: &[f64], r: usize, k: usize, c: usize| -> Vec<f64> {
        (0..r * c)
            .map(|ij| (0..k).map(|p| a[ij / c * k + p] * b[p * c + ij % c]).sum())
            .collect()
    };
    let e_mat = m.e.value.data();
    let e: Vec<f64> = (0..t * dm)
        .map(|ij| e_mat[(ij % dm) * nv + ids[ij / dm]])
        .collect();
    let et: Vec<f64> = e.iter().zip(m.p.data()).map(|(a, p)| a + p).collect();
    let q = mm(&et, m.w_q.value.data(), t, dm, dk);
    let k = mm(&et, m.w_k.value.data(), t, dm, dk);
    let v = mm(&et, m.w_v.value.data(), t, dm, dk);
    let mut a = vec![0.0; t * t];
    for i in 0..t {
        let s: Vec<f64> = (0..=i)
            .map(|j| (0..dk).map(|c| q[i * dk + c] * k[j * dk + c]).sum::<f64>() / (dk as f64).sqrt())
            .collect();
        let z: f64 = s.iter().map(|x| x.exp()).sum();
        (0..=i).for_each(|j| a[i * t + j] = s[j].exp() / z);
    }
    let c = mm(&a, &v, t, t, dk);
    let mut hidden = mm(&c, m.w_1.value.data(), t, dk, df);
    hidden
        .iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x = (*x + m.b_1.value.data()[i % df]).max(0.0));
    let mut ct = mm(&hidden, m.w_2.value.data(), t, df, dm);
    ct.iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x += m.b_2.value.data()[i % dm]);
    let mut o = mm(&ct, m.w_o.value.data(), t, dm, nv);
    o.iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x += m.b_o.value.data()[i % nv]);
    tr.anchor("eq_4_2_by_hand");
    tr.say(format!(
        "Eq. 4.2 on x = {ids:?} (V = 5, d_model = 4, d_k = 3, d_ff = 6): engine against plain loops"
    ));
    tr.say(format!(
        "{:<34} {:>8} {:>22}",
        "equation", "shape", "max |engine − hand|"
    ));
    let mut worst = 0.0f64;
    let rows: [(&str, Var<f64>, &Vec<f64>); 9] = [
        ("(1) e_t = E x_t", eq.e, &e),
        ("(2) ẽ_t = e_t + p_t", eq.e_tilde, &et),
        ("(3) Q = ẼW^Q", eq.q, &q),
        ("(3) K = ẼW^K", eq.k, &k),
        ("(3) V = ẼW^V", eq.v, &v),
        ("(3) A = softmax(QKᵀ/√d_k + M)", eq.a, &a),
        ("(3) C = AV", eq.c, &c),
        ("(4) C̃ = ReLU(CW₁ + b₁)W₂ + b₂", eq.c_tilde, &ct),
        ("(5) c̃_t W_o + b_o (logits of y_t)", eq.logits, &o),
    ];
    for (label, var, hand) in rows {
        let value = var.value();
        let diff = value
            .data()
            .iter()
            .zip(hand.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        worst = worst.max(diff);
        tr.say(format!(
            "{label:<34} {:>8} {diff:>22.1e}",
            value.shape().to_string()
        ));
    }
    let rows: Vec<String> = a
        .chunks(t)
        .map(|r| {
            format!(
                "[{}]",
                r.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    tr.say(format!(
        "A (causal: zeros above the diagonal) = {}",
        rows.join(" ")
    ));
    tr.end("eq_4_2_by_hand");
    tr.say("");
    ch.summary.record("eq 4.2 engine vs hand, max abs diff", worst);
    worst
}

/// The §4.2 model's gradient against finite differences.
fn gradient_check_42(ch: &mut Chapter, tr: &mut Transcript) -> Result<(), Box<dyn std::error::Error>> {
    let cfg = Eq42Config {
        vocab_size: 5,
        d_model: 4,
        d_k: 3,
        d_ff: 6,
        context: 8,
    };
    let mut m = Eq42::<f64>::new(cfg, &mut StdRng::seed_from_u64(ch.args.seed + 1));
    let ids = [0usize, 3, 1, 4, 2, 2, 1, 0, 4, 3];
    let targets = [3usize, 1, 4, 2, 2, 0, 0, 4, 3, 3];
    let report = GradCheck::default().check_module(&mut m, |m, g| {
        m.trace(g, &ids, 2, 5).logits.cross_entropy(&targets)
    })?;
    tr.anchor("eq_4_2");
    tr.say("gradient check of Eq. 4.2 (2 sequences of 5 tokens), f64, ε = 1e-6:");
    for line in report.to_string().lines() {
        tr.say(line);
    }
    tr.end("eq_4_2");
    tr.say("");
    ch.summary.record("eq 4.2 gradcheck elements", report.checked());
    ch.summary
        .record("eq 4.2 gradcheck max rel err", report.max_rel_err());
    Ok(())
}

/// ‖∂L_T/∂ẽ_{T−k}‖ for the §4.2 model: how strongly the last prediction's loss
/// depends on the input k positions back, through attention.
fn attention_gradient_norms(m: &Eq42<f64>, data: &Dataset, len: usize, seqs: usize, seed: u64) -> Vec<f64> {
    let batch = random_batch(&data.val, seqs, len, &mut StdRng::seed_from_u64(seed));
    let g = Graph::<f64>::new();
    let tr = m.trace(&g, &batch.inputs, seqs, len);
    g.retain_grad(tr.e_tilde);
    let grads = last_loss(tr.logits, &batch.targets, seqs, len).backward();
    let ge = grads.wrt(tr.e_tilde).expect("retained");
    let dm = m.config.d_model;
    (0..len)
        .map(|k| {
            mean_norm((0..seqs).map(|b| &ge.data()[(b * len + len - 1 - k) * dm..(b * len + len - k) * dm]))
        })
        .collect()
}

pub fn run(args: Args) -> ChapterResult {
    let quick = args.common.quick;
    let mut ch = Chapter::start("ch04", "The equations, evaluated", args.common, &[])?;
    let seed = ch.args.seed;
    let mut tr = Transcript::default();
    eq_4_1_by_hand(&mut ch, &mut tr);
    gradient_check(&mut ch, &mut tr)?;
    println!();
    eq_4_2_by_hand(&mut ch, &mut tr);
    gradient_check_42(&mut ch, &mut tr)?;

    let (name, data, _) = ch.dataset()?;
    let hidden = if quick { 32 } else { 128 };
    let steps = ch.args.steps.unwrap_or(if quick { 40 } else { 800 });
    let len = if quick { 41 } else { 101 };

    // Vanishing (and exploding) gradients through time.
    let mut series = Vec::new();
    tr.anchor("vanishing");
    tr.say(format!(
        "‖∂L_T/∂h_(T−k)‖ on the {name}, H = {hidden}, mean over 16 sequences of {len} characters"
    ));
    let cols = [0, 10, len / 2, len - 1];
    let header: String = cols
        .iter()
        .map(|k| format!(" {:>10}", format!("k = {k}")))
        .collect();
    tr.say(format!("{:<56}{header}", "model"));
    let mut report =
        |label: &str, norms: &[f64], color: usize, mark: Mark, ch: &mut Chapter, tr: &mut Transcript| {
            let row: String = cols
                .iter()
                .map(|&k| match norms.get(k) {
                    Some(n) => format!(" {n:>10.2e}"),
                    None => format!(" {:>10}", "-"),
                })
                .collect();
            tr.say(format!("{label:<56}{row}"));
            let far = norms.len() - 1;
            let ratio = norms[far] / norms[0];
            ch.summary
                .record(&format!("grad norm ratio k={far}/k=0, {label}"), ratio);
            let pts = norms.iter().enumerate().map(|(k, &n)| (k as f64, n)).collect();
            series.push(Series::line(label, pts).with_mark(mark).with_color(color));
            ratio
        };
    // The ratios the findings quote (NaN if a run diverged).
    let (mut tanh_init, mut tanh_trained) = (f64::NAN, f64::NAN);
    let mut rnn_history = None;
    for (i, f) in [Activation::Tanh, Activation::Relu].into_iter().enumerate() {
        let init = Rnn::<f32>::new(data.vocab_size(), hidden, f, &mut StdRng::seed_from_u64(seed));
        let r = report(
            &format!("{f} RNN, at initialisation"),
            &gradient_norms(&init.cast(), &data, len, 16, seed),
            i,
            Mark::Dashed,
            &mut ch,
            &mut tr,
        );
        if f == Activation::Tanh {
            tanh_init = r;
        }
        for (j, clip) in [Some(1.0), None].into_iter().enumerate() {
            let label = format!(
                "{f} RNN, trained, {}",
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
            match train::train(&mut rnn, &mut AdamW::nanogpt(3e-3), &data, &cfg) {
                Ok(h) => {
                    ch.summary
                        .record(&format!("val nats/char, {label}"), h.final_val());
                    let mark = if j == 0 { Mark::Line } else { Mark::LinePoints };
                    let r = report(
                        &label,
                        &gradient_norms(&rnn.cast(), &data, len, 16, seed),
                        i,
                        mark,
                        &mut ch,
                        &mut tr,
                    );
                    if f == Activation::Tanh && clip.is_some() {
                        rnn_history = Some(h);
                        tanh_trained = r;
                    }
                }
                Err(e @ (TrainError::NonFiniteLoss { .. } | TrainError::NonFiniteGradient { .. })) => {
                    tr.say(format!("{label:<34} diverged: {e}"));
                    ch.summary.record(&label, format!("diverged: {e}"));
                }
            }
        }
    }

    // The §4.2 Transformer on the same corpus and budget, and its gradient reach.
    let context = 64.min(len - 1);
    let cfg42 = Eq42Config {
        vocab_size: data.vocab_size(),
        d_model: 128,
        d_k: 128,
        d_ff: 512,
        context,
    };
    let mut eq42 = Eq42::<f32>::new(cfg42, &mut StdRng::seed_from_u64(seed));
    let init42 = attention_gradient_norms(&eq42.cast(), &data, context, 16, seed);
    let attention_init = report(
        "§4.2 Transformer, at initialisation: ‖∂L_T/∂ẽ_(T−k)‖",
        &init42,
        2,
        Mark::Dashed,
        &mut ch,
        &mut tr,
    );
    let mut cfg = TrainConfig::new(steps, 32, context, 1e-3);
    cfg.seed = seed;
    cfg.label = "eq 4.2".into();
    let h42 = train::train(&mut eq42, &mut AdamW::nanogpt(1e-3), &data, &cfg)?;
    let norms42 = attention_gradient_norms(&eq42.cast(), &data, context, 16, seed);
    let attention_trained = report(
        "§4.2 Transformer, trained: ‖∂L_T/∂ẽ_(T−k)‖",
        &norms42,
        2,
        Mark::LinePoints,
        &mut ch,
        &mut tr,
    );
    tr.end("vanishing");
    std::fs::write(ch.figure("tables.txt"), &tr.text)?;
    let fig = Figure::new(
        "How far back the gradient reaches",
        "k (steps back from the last prediction)",
        "gradient norm (log scale)",
        &ch.caption(),
    )
    .log_y()
    .legend(Legend::Outside);
    plot::lines(ch.figure("vanishing_gradient.svg"), &fig, &series)?;

    println!(
        "\n   §4.2 Transformer (one head, one layer, d_model = 128): validation loss {:.3} nats/char",
        h42.final_val()
    );
    ch.summary.record("eq 4.2 model val nats/char", h42.final_val());
    if let Some(h41) = &rnn_history {
        println!(
            "   §4.1 RNN (tanh, H = {hidden}, clipped): validation loss {:.3} nats/char",
            h41.final_val()
        );
        let val = |h: &train::History| h.val.iter().map(|&(s, l)| (s as f64, l)).collect::<Vec<_>>();
        let fig = Figure::new(
            &format!("The §4.1 and §4.2 models on the {name}, {steps} steps each"),
            "step",
            "cross-entropy (nats per character)",
            &ch.caption(),
        );
        plot::lines(
            ch.figure("eq41_vs_eq42.svg"),
            &fig,
            &[
                Series::line("§4.1 RNN: train", plot::smooth(&h41.train, 25)).with_color(0),
                Series::line("§4.1 RNN: validation", val(h41))
                    .with_mark(Mark::LinePoints)
                    .with_color(0),
                Series::line("§4.2 Transformer: train", plot::smooth(&h42.train, 25)).with_color(2),
                Series::line("§4.2 Transformer: validation", val(&h42))
                    .with_mark(Mark::LinePoints)
                    .with_color(2),
            ],
        )?;
        ch.summary.finding(format!(
            "Trained alike, the one-head §4.2 model reaches {:.3} nats/char and the §4.1 RNN {:.3}.",
            h42.final_val(),
            h41.final_val()
        ));
    }
    let (far, near) = (len - 1, context - 1);
    let findings = [
        format!(
            "At initialisation the gradient {far} steps back through the tanh RNN is {:.0e} of its size at k = 0; through \
             attention, {near} steps back it is {:.1e}: the architecture itself keeps a direct path to every position.",
            tanh_init, attention_init,
        ),
        format!(
            "After training, both concentrate on recent characters: {:.1e} at k = {far} for the tanh RNN, {:.1e} at \
             k = {near} for the §4.2 model, whose attention learned to look mostly nearby.",
            tanh_trained, attention_trained,
        ),
    ];
    for f in findings {
        ch.summary.finding(f);
    }
    ch.finish()
}

#[allow(dead_code)]
fn main() {
    main_with(run)
}
