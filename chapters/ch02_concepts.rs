//! Chapter 2: the concepts of §2 (memory, attention, autoregression) made
//! visible from trained models.
//!
//! The autoregressive loop as a table (context → distribution → choice); how
//! the loss at each position of a window falls as a model reads (memory is what
//! makes it fall); and induction heads (Olsson et al. 2022): on random tokens
//! whose second half repeats the first, a 2-block Transformer learns to find
//! the earlier occurrence of the current token and copy what came next, a
//! 1-block one cannot.
//!
//! ```text
//! cargo run --release --bin ch02
//! ```

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, Program, Transcript, mean_sd, sizes};
use shortmem::data::{Dataset, Repeats, windows};
use shortmem::models::{Activation, LanguageModel, NGram, Rnn, Smoothing, TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::plot::{Legend, Mark, Series};
use shortmem::sample::probabilities;
use shortmem::tasks::loss_by_position;
use shortmem::train::{self, TrainConfig};
use std::error::Error;

pub const PROGRAM: Program = Program {
    id: "ch02",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch02",
    allow_negative_numbers = true,
    about = "Chapter 2: autoregression step by step, loss against position, and induction heads"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The sizes of a run.
struct Sizes {
    /// Training steps of the corpus models (`--steps`).
    steps: usize,
    /// Held-out windows averaged in the loss-against-position curve.
    windows: usize,
    /// Induction: training steps, seeds, test sequences.
    induction_steps: usize,
    induction_seeds: usize,
    induction_test: usize,
}

const DEFAULT: Sizes = Sizes {
    steps: 800,
    windows: 256,
    induction_steps: 800,
    induction_seeds: 3,
    induction_test: 1000,
};
const QUICK: Sizes = Sizes {
    steps: 30,
    windows: 16,
    induction_steps: 30,
    induction_seeds: 1,
    induction_test: 64,
};

/// The window of the corpus models (and the longest context of the curve).
const CONTEXT: usize = 64;

pub fn run(args: Args) -> ChapterResult {
    let size = sizes(&args.common, DEFAULT, QUICK);
    let mut ch = Chapter::start("ch02", "Core concepts", args.common, &[])?;
    let (name, data, _) = ch.dataset()?;
    let why = "the models read windows of 65 characters, and the curve averages held-out windows";
    ch.require_text(&name, &data, (32 * (CONTEXT + 1) + 1, CONTEXT + 2), why)?;
    let (rnn, gpt) = train_corpus_models(&mut ch, &data, size.steps)?;
    autoregression(&mut ch, &gpt, &data)?;
    loss_against_position(&mut ch, &name, &data, &rnn, &gpt, size.windows)?;
    induction_heads(&mut ch, &size)?;
    ch.finish()
}

/// § An RNN and a Transformer trained on the corpus, as in chapter 3 but briefly.
fn train_corpus_models(
    ch: &mut Chapter,
    data: &Dataset,
    steps: usize,
) -> Result<(Rnn, TransformerLM), Box<dyn Error>> {
    ch.section("two models of the text");
    let (seed, lr, steps) = (ch.seed(), 3e-3, ch.steps(steps));
    let mut cfg = TrainConfig::new(steps, 32, CONTEXT, lr);
    cfg.seed = seed;
    let mut rnn = Rnn::<f32>::new(
        data.vocab_size(),
        128,
        Activation::Tanh,
        &mut StdRng::seed_from_u64(seed),
    );
    cfg.label = "rnn".into();
    let h = train::train(&mut rnn, &mut AdamW::nanogpt(lr), data, &cfg)?;
    println!(
        "   RNN (H = 128): validation loss {:.3} nats/char after {steps} steps",
        h.final_val()
    );
    ch.record("RNN (H = 128) val nats/char", h.final_val());
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 256,
        num_layers: 2,
        context: CONTEXT,
        causal: true,
    };
    let mut gpt = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    cfg.label = "transformer".into();
    let h = train::train(&mut gpt, &mut AdamW::nanogpt(lr), data, &cfg)?;
    println!(
        "   Transformer (2 blocks, D = 64): validation loss {:.3} nats/char after {steps} steps",
        h.final_val()
    );
    ch.record("Transformer (2 blocks, D = 64) val nats/char", h.final_val());
    Ok((rnn, gpt))
}

/// § The autoregressive loop, one row per step: the context the model sees, its
/// three most likely next characters, the one chosen (greedy), appended.
fn autoregression(ch: &mut Chapter, gpt: &TransformerLM, data: &Dataset) -> Result<(), Box<dyn Error>> {
    ch.section("autoregression, step by step");
    let tok = &data.tokenizer;
    let mut ids = tok
        .encode("Mia put the key in the ")
        .unwrap_or_else(|_| data.val[..24].to_vec());
    let mut tr = Transcript::default();
    tr.anchor("autoregression");
    tr.say(format!(
        "{:>28} | {:<40} | chosen",
        "context (its last 24 characters)", "the model's three most likely next characters"
    ));
    for _ in 0..12 {
        let window = &ids[ids.len().saturating_sub(CONTEXT)..];
        let p = probabilities(&gpt.next_logits(window));
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let show = |id: usize| format!("{:?}", tok.decode(&[id]).unwrap_or_default());
        let top: Vec<String> = order[..3]
            .iter()
            .map(|&i| format!("{} {:.2}", show(i), p[i]))
            .collect();
        let tail = tok.decode(&ids[ids.len().saturating_sub(24)..])?;
        tr.say(format!(
            "{:>28} | {:<40} | {}",
            format!("{tail:?}"),
            top.join("  "),
            show(order[0])
        ));
        ids.push(order[0]);
    }
    tr.end("autoregression");
    ch.record("autoregression: text after 12 greedy steps", tok.decode(&ids)?);
    ch.write_transcript("autoregression.txt", &tr)?;
    Ok(())
}

/// § The mean loss at each position of a held-out window, read from its start:
/// the 8-gram (which sees at most the last 8 characters), the RNN and the
/// Transformer. What the curve gains after position 8 is memory.
fn loss_against_position(
    ch: &mut Chapter,
    name: &str,
    data: &Dataset,
    rnn: &Rnn,
    gpt: &TransformerLM,
    n: usize,
) -> Result<(), Box<dyn Error>> {
    ch.section("loss against position");
    let last = data.val.len() - CONTEXT - 1;
    let starts: Vec<usize> = (0..n).map(|i| i * last / n.max(1)).collect();
    let batch = windows(&data.val, &starts, CONTEXT);
    let ngram = NGram::fit(&data.train, data.vocab_size(), 8);
    let ngram_curve: Vec<f64> = (0..CONTEXT)
        .map(|t| {
            let k = (t + 1).min(8);
            let sum: f64 = (0..n)
                .map(|b| {
                    let row = &batch.inputs[b * CONTEXT..][..CONTEXT];
                    let p = ngram.prob(
                        &row[t + 1 - k..=t],
                        batch.targets[b * CONTEXT + t],
                        k,
                        Smoothing::WittenBell,
                    );
                    -p.ln()
                })
                .sum();
            sum / n as f64
        })
        .collect();
    let curves = [
        ("8-gram (Witten-Bell)", ngram_curve),
        ("RNN (H = 128)", loss_by_position(rnn, &batch)),
        ("Transformer (2 blocks)", loss_by_position(gpt, &batch)),
    ];
    for (label, curve) in &curves {
        println!(
            "   {label:>24}: position 0 {:.2}, 8 {:.2}, 32 {:.2}, 63 {:.2} nats/char",
            curve[0], curve[8], curve[32], curve[63]
        );
        for t in [0, 8, 63] {
            ch.record(&format!("loss at position {t}: {label}"), curve[t]);
        }
    }
    let series: Vec<Series> = curves
        .iter()
        .enumerate()
        .map(|(i, (label, c))| {
            let pts = c.iter().enumerate().map(|(t, &l)| (t as f64, l)).collect();
            Series::line(label, pts).with_mark(if i == 0 { Mark::Dashed } else { Mark::Line })
        })
        .collect();
    let fig = ch
        .frame(
            &format!("Loss against position in a window of the {name}"),
            "position in the window (characters read so far)",
            "mean cross-entropy (nats per character)",
        )
        .legend(Legend::UpperRight);
    ch.lines("loss_by_position.svg", &fig, &series)?;
    Ok(())
}

/// § Induction heads: 1- and 2-block Transformers on repeated random tokens.
fn induction_heads(ch: &mut Chapter, size: &Sizes) -> Result<(), Box<dyn Error>> {
    ch.section("induction heads");
    let task = Repeats { vocab: 64, half: 32 };
    println!(
        "   64 random tokens, the second 32 a copy of the first; {} seed(s), {} steps, {} test sequences",
        size.induction_seeds, size.induction_steps, size.induction_test
    );
    let mut curves = Vec::new();
    let mut two_block = None;
    for layers in [1, 2] {
        let mut repeat = Vec::new();
        let mut score = Vec::new();
        let mut mean_curve = vec![0.0; task.time()];
        for s in 0..size.induction_seeds {
            let seed = ch.seed() + 1000 * s as u64;
            let model = train_repeats(&task, layers, size.induction_steps, seed)?;
            let test = task.batch(size.induction_test, &mut StdRng::seed_from_u64(seed ^ 0x7e57));
            let curve = loss_by_position(&model, &test);
            let mean = |r: std::ops::Range<usize>| curve[r.clone()].iter().sum::<f64>() / r.len() as f64;
            repeat.push(mean(task.repeat_positions()));
            score.push(mean(task.repeat_positions()) - mean(task.fresh_positions()));
            for (m, c) in mean_curve.iter_mut().zip(&curve) {
                *m += c / size.induction_seeds as f64;
            }
            if layers == 2 && s == 0 {
                two_block = Some(model);
            }
        }
        let (r, r_sd) = mean_sd(&repeat);
        let (sc, _) = mean_sd(&score);
        println!(
            "   {layers} block(s): loss on the repeat {r:.3} ± {r_sd:.3} nats (ln 64 = {:.3}); in-context score {sc:+.3}",
            (64f64).ln()
        );
        let key = if layers == 1 { "1-layer" } else { "2-layer" };
        ch.record(&format!("induction: {key} loss on the repeat"), r);
        ch.record(
            &format!("induction: {key} spread of the loss on the repeat"),
            r_sd,
        );
        ch.record(&format!("induction: {key} in-context score"), sc);
        curves.push((layers, mean_curve));
    }
    let series: Vec<Series> = curves
        .iter()
        .map(|(l, c)| {
            let pts = c[..task.time() - 1]
                .iter()
                .enumerate()
                .map(|(t, &v)| (t as f64, v))
                .collect();
            Series::line(&format!("{l} block(s)"), pts).with_mark(if *l == 1 {
                Mark::Dashed
            } else {
                Mark::Line
            })
        })
        .chain([Series::reference("ln 64: a uniform guess", (64f64).ln())])
        .collect();
    let fig = ch
        .frame(
            "Repeated random tokens: loss at each position",
            "position (the repeat starts at 32)",
            "mean cross-entropy (nats), mean over seeds",
        )
        .legend(Legend::Outside);
    ch.lines("induction_loss.svg", &fig, &series)?;
    if let Some(model) = two_block {
        induction_map(ch, &model, &task)?;
    }
    Ok(())
}

/// A Transformer of `layers` blocks trained on fresh repeated sequences.
fn train_repeats(
    task: &Repeats,
    layers: usize,
    steps: usize,
    seed: u64,
) -> Result<TransformerLM, Box<dyn Error>> {
    let config = TransformerConfig {
        vocab_size: task.vocab,
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 128,
        num_layers: layers,
        context: task.time(),
        causal: true,
    };
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    let lr = 3e-3;
    let mut cfg = TrainConfig::new(steps, 32, task.time(), lr);
    cfg.seed = seed;
    cfg.eval_every = steps;
    cfg.label = format!("induction, {layers} block(s)");
    let mut rng = StdRng::seed_from_u64(seed);
    let val = task.batch(64, &mut StdRng::seed_from_u64(seed ^ 0x7a1));
    train::fit(
        &mut model,
        &mut AdamW::nanogpt(lr),
        &cfg,
        |_| (task.batch(32, &mut rng), true),
        |m, g, b, _: &mut ()| m.logits(g, b).cross_entropy(&b.targets),
        |m| loss_by_position(m, &val).iter().sum::<f64>() / val.time as f64,
    )?;
    Ok(model)
}

/// The head of the second block that looks most at the token one past the
/// earlier occurrence of the current one, and its attention map.
fn induction_map(ch: &mut Chapter, model: &TransformerLM, task: &Repeats) -> Result<(), Box<dyn Error>> {
    let batch = task.batch(1, &mut StdRng::seed_from_u64(ch.seed() ^ 0x1d));
    let n = task.time();
    let maps = model.attention_maps(&batch.inputs, 1, n);
    let last = &maps[maps.len() - 1];
    let heads = model.config.num_heads;
    // Induction score of a head: its mean weight, over the repeat, on the
    // position just after the current token's first occurrence.
    let score = |h: usize| {
        let w = &last.data()[h * n * n..(h + 1) * n * n];
        task.repeat_positions()
            .map(|t| w[t * n + (t - task.half + 1)] as f64)
            .sum::<f64>()
            / task.repeat_positions().len() as f64
    };
    let best = (0..heads)
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .unwrap_or(0);
    println!(
        "   the most inductive head of block 2 (head {best}) puts {:.2} of its weight, on average, one token past the earlier occurrence",
        score(best)
    );
    ch.record(
        "induction: weight of the best head one past the earlier occurrence",
        score(best),
    );
    let w = &last.data()[best * n * n..(best + 1) * n * n];
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|t| w[t * n..(t + 1) * n].iter().map(|&x| x as f64).collect())
        .collect();
    let labels: Vec<String> = (0..n)
        .map(|t| if t % 8 == 0 { t.to_string() } else { String::new() })
        .collect();
    let fig = ch.frame(
        &format!("Block 2, head {best}: an induction head"),
        "position attended to (the repeat starts at 32)",
        "position attending",
    );
    ch.heatmap("induction_head.svg", &fig, &rows, (&labels, &labels), (0.0, 1.0))?;
    Ok(())
}
