//! Chapter 2: the concepts of §2 (memory, attention, autoregression) made
//! visible from trained models.
//!
//! The autoregressive loop as a table (context → distribution → choice); how
//! the loss at each position of a window falls as a model reads (memory is what
//! makes it fall); and induction heads (Olsson et al. 2022): on random tokens
//! in which a block repeats at an offset that varies, a 2-layer attention-only
//! Transformer learns to find the earlier occurrence of the current token and
//! copy what came next, a 1-layer one cannot. Last, the data of the book's
//! attention explorer: every head's weights on a few prompts, for both models.
//!
//! ```text
//! cargo run --release --bin ch02
//! ```

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;
use shortmem::autograd::Graph;
use shortmem::chapter::{
    Chapter, ChapterResult, CommonArgs, Program, Transcript, mean_sd, output_dir, sizes, the_corpus,
};
use shortmem::data::{AnswerKind, CharTokenizer, Corpus, Dataset, Repeats, windows};
use shortmem::models::{
    Activation, AttentionOnly, LanguageModel, NGram, Rnn, Smoothing, TransformerConfig, TransformerLM,
};
use shortmem::optim::AdamW;
use shortmem::plot::{self, AttentionPanel, Legend, Mark, Series};
use shortmem::sample::probabilities;
use shortmem::tasks::{loss_by_position, repeat_loss, train_repeats};
use shortmem::train::{self, History, TrainConfig};
use std::error::Error;
use std::ops::Range;

pub const PROGRAM: Program = Program {
    id: "ch02",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch02",
    allow_negative_numbers = true,
    about = "Chapter 2: autoregression step by step, loss against position, and induction heads",
    mut_arg("steps", |a| a.help(format!("Training steps of the RNN and the Transformer of §2 [default: {}; {} with --quick] (the induction heads train {})", DEFAULT.steps, QUICK.steps, DEFAULT.induction_steps)))
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The book's run of the induction experiment: more seeds, longer training.
    #[arg(long, conflicts_with = "quick")]
    pub full: bool,
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
    steps: 2000,
    windows: 256,
    induction_steps: 3000,
    induction_seeds: 1,
    induction_test: 1000,
};
/// `--full`: the induction experiment over several seeds.
const FULL: Sizes = Sizes {
    induction_steps: 4000,
    induction_seeds: 3,
    ..DEFAULT
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
    let size = if args.full {
        FULL
    } else {
        sizes(&args.common, DEFAULT, QUICK)
    };
    let mut common = args.common;
    if args.full && common.out.is_none() {
        // The larger run keeps its own figures, beside the default run's.
        common.out = Some(output_dir("ch02", &common).join("full"));
    }
    let extra = if args.full {
        vec!["--full".to_string()]
    } else {
        vec![]
    };
    let mut ch = Chapter::start("ch02", "Core concepts", common, &extra)?;
    let (name, data, corpus) = ch.dataset()?;
    let why = "the models read windows of 65 characters, and the curve averages held-out windows";
    ch.require_text(&name, &data, (32 * (CONTEXT + 1) + 1, CONTEXT + 2), why)?;
    let (rnn, gpt) = train_corpus_models(&mut ch, &data, size.steps)?;
    autoregression(&mut ch, &gpt, &data)?;
    loss_against_position(&mut ch, &name, &data, &rnn, &gpt, size.windows)?;
    let induction = induction_heads(&mut ch, &size)?;
    attention_explorer(&mut ch, &data, corpus.as_ref(), &gpt, &induction)?;
    ch.finish()
}

/// § An RNN and a Transformer trained on the corpus, as in chapter 3.
fn train_corpus_models(
    ch: &mut Chapter,
    data: &Dataset,
    steps: usize,
) -> Result<(Rnn, TransformerLM), Box<dyn Error>> {
    ch.section("two models of the text");
    let (seed, steps) = (ch.seed(), ch.steps(steps));
    // As in chapter 3: the Transformer learns to look answers up only at the
    // larger rate; the RNN does worse at it than at 3e-3.
    let (lr, gpt_lr) = (3e-3, 6e-3);
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
    let mut gpt = TransformerLM::<f32>::new(
        corpus_transformer(data.vocab_size()),
        &mut StdRng::seed_from_u64(seed),
    );
    cfg.label = "transformer".into();
    cfg.schedule = TrainConfig::new(steps, 32, CONTEXT, gpt_lr).schedule;
    let h = train::train(&mut gpt, &mut AdamW::nanogpt(gpt_lr), data, &cfg)?;
    println!(
        "   Transformer (2 blocks, D = 64): validation loss {:.3} nats/char after {steps} steps",
        h.final_val()
    );
    ch.record("Transformer (2 blocks, D = 64) val nats/char", h.final_val());
    Ok((rnn, gpt))
}

/// The corpus Transformer of this chapter, for a vocabulary of `vocab_size`:
/// 2 blocks of 4 heads, width 64, a window of `CONTEXT` characters.
pub fn corpus_transformer(vocab_size: usize) -> TransformerConfig {
    TransformerConfig {
        vocab_size,
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 256,
        num_layers: 2,
        context: CONTEXT,
        causal: true,
    }
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
            &format!("Loss against position in a window of {}", the_corpus(name)),
            "position in the window (characters read so far)",
            "mean cross-entropy (nats per character)",
        )
        .legend(Legend::UpperRight);
    ch.lines("loss_by_position.svg", &fig, &series)?;
    Ok(())
}

/// § Induction heads: 1- and 2-layer attention-only models on repeated random
/// tokens; returns the 2-layer model of the first seed.
fn induction_heads(ch: &mut Chapter, size: &Sizes) -> Result<AttentionOnly, Box<dyn Error>> {
    ch.section("induction heads");
    let task = Repeats::new(64, 64, 8, 32)?;
    // The curve and the map use one block length, so that positions line up.
    let shown = Repeats::new(64, 64, SHOWN_BLOCK, SHOWN_BLOCK)?;
    println!(
        "   windows of 64 random tokens: a block of 8-32 distinct tokens (a new length each time), its copy, fresh tokens;"
    );
    println!(
        "   attention-only models, {} seed(s), {} steps, {} test sequences",
        size.induction_seeds, size.induction_steps, size.induction_test
    );
    // What knowing only "one of the block's other tokens comes next" is worth:
    // ln(L − 1) at each of a row's L − 1 copy positions, pooled as the loss is.
    let bound = {
        let test = task.sample(size.induction_test, ch.seed() ^ 0x7e57);
        let (mut sum, mut count) = (0.0, 0.0);
        for &l in &test.block_len {
            sum += (l - 1) as f64 * ((l - 1) as f64).ln();
            count += (l - 1) as f64;
        }
        sum / count
    };
    println!("   a guess among the block's other tokens would pay {bound:.3} nats on the copy");
    ch.record("induction: a uniform guess among the block's other tokens", bound);
    let mut curves = Vec::new();
    let mut training = Vec::new();
    let mut two_layer = None;
    for layers in [1, 2] {
        let (mut repeat, mut score) = (Vec::new(), Vec::new());
        let mut mean_curve = vec![0.0; shown.time()];
        for s in 0..size.induction_seeds {
            let seed = ch.seed() + 1000 * s as u64;
            let (model, history) = train_induction(&task, layers, size.induction_steps, seed)?;
            training.push((layers, s, history.val_points()));
            let loss = repeat_loss(&model, &task.sample(size.induction_test, seed ^ 0x7e57));
            repeat.push(loss.repeat);
            score.push(loss.in_context());
            let curve = loss_by_position(&model, &shown.sample(size.induction_test, seed ^ 0xc0).batch);
            for (m, c) in mean_curve.iter_mut().zip(&curve) {
                *m += c / size.induction_seeds as f64;
            }
            if layers == 2 && s == 0 {
                two_layer = Some(model);
            }
        }
        let (r, r_sd) = mean_sd(&repeat);
        let (sc, sc_sd) = mean_sd(&score);
        println!(
            "   {layers} layer(s): loss on the copy {r:.3} ± {r_sd:.3} nats (a uniform guess: ln 64 = {:.3}); in-context score {sc:+.3} ± {sc_sd:.3}",
            (64f64).ln()
        );
        let key = if layers == 1 { "1-layer" } else { "2-layer" };
        ch.record(&format!("induction: {key} loss on the repeat"), r);
        ch.record(
            &format!("induction: {key} loss on the repeat as a number of equally likely tokens"),
            r.exp(),
        );
        ch.record(&format!("induction: {key} in-context score"), sc);
        if size.induction_seeds > 1 {
            ch.record(
                &format!("induction: {key} spread of the loss on the repeat"),
                r_sd,
            );
            ch.record(&format!("induction: {key} spread of the in-context score"), sc_sd);
        }
        curves.push((layers, mean_curve));
    }
    let series: Vec<Series> = curves
        .iter()
        .map(|(l, c)| {
            let pts = c.iter().enumerate().map(|(t, &v)| (t as f64, v)).collect();
            Series::line(&format!("{l} layer(s)"), pts).with_mark(if *l == 1 {
                Mark::Dashed
            } else {
                Mark::Line
            })
        })
        .chain([Series::reference("ln 64: a uniform guess", (64f64).ln())])
        .collect();
    let fig = ch
        .frame(
            &format!("Repeated random tokens (block of {SHOWN_BLOCK}): loss at each position"),
            &format!(
                "position (the copy runs from {SHOWN_BLOCK} to {})",
                2 * SHOWN_BLOCK - 1
            ),
            "cross-entropy (nats), mean over seeds",
        )
        .legend(Legend::Outside);
    ch.lines("induction_loss.svg", &fig, &series)?;
    phase_change(ch, &training, bound)?;
    let model = two_layer.ok_or("induction: no 2-layer model was trained")?;
    induction_map(ch, &model, &shown)?;
    Ok(model)
}

/// The block length of the loss curve and the attention maps.
const SHOWN_BLOCK: usize = 24;

/// The width and the heads of the attention-only induction models.
pub const INDUCTION_WIDTH: usize = 64;
pub const INDUCTION_HEADS: usize = 4;

/// (layers, seed index, validation points) of one induction run.
type TrainingCurve = (usize, usize, Vec<(f64, f64)>);

/// The loss on the copy during training, one curve per model and seed: the
/// 2-layer model's falls suddenly, once its two heads have formed. Records
/// when: the first evaluation at which a 2-layer run beats `bound` (knowing
/// only that one of the block's other tokens comes next), at the earliest and
/// the latest seed, and the loss at the evaluation before it.
fn phase_change(ch: &mut Chapter, training: &[TrainingCurve], bound: f64) -> Result<(), Box<dyn Error>> {
    let drops: Vec<(f64, f64)> = training
        .iter()
        .filter(|c| c.0 == 2)
        .filter_map(|(_, _, points)| {
            let i = points.iter().position(|&(_, loss)| loss < bound)?;
            Some((points[i].0, points[i.saturating_sub(1)].1))
        })
        .collect();
    if !drops.is_empty() {
        let first = drops.iter().map(|d| d.0).fold(f64::INFINITY, f64::min);
        let last = drops.iter().map(|d| d.0).fold(0.0, f64::max);
        let before = drops.iter().map(|d| d.1).sum::<f64>() / drops.len() as f64;
        println!(
            "   the 2-layer loss on the copy first beats that guess at step {first} to {last} ({} of {} seeds); the evaluation before, it was {before:.2}",
            drops.len(),
            training.iter().filter(|c| c.0 == 2).count()
        );
        ch.record(
            "induction: 2-layer step of the drop, earliest seed",
            first as usize,
        );
        ch.record("induction: 2-layer step of the drop, latest seed", last as usize);
        ch.record("induction: 2-layer loss on the copy just before the drop", before);
    }
    let series: Vec<Series> = training
        .iter()
        .map(|(layers, seed, points)| {
            // One key per model; its other seeds' curves are drawn alike.
            let name = if *seed == 0 {
                format!(
                    "{layers} layer(s), {} seed(s)",
                    training.iter().filter(|c| c.0 == *layers).count()
                )
            } else {
                String::new()
            };
            Series::line(&name, points.clone())
                .with_color(layers - 1)
                .with_mark(if *layers == 1 { Mark::Dashed } else { Mark::Line })
        })
        .collect();
    let fig = ch
        .frame(
            "Training on repeated tokens: loss on the copy (held-out sequences)",
            "training step",
            "cross-entropy on the copy (nats)",
        )
        .legend(Legend::Outside);
    ch.lines("induction_training.svg", &fig, &series)?;
    Ok(())
}

/// An attention-only model of `layers` layers trained on fresh repeated
/// sequences, and its validation curve (the loss on the copy).
fn train_induction(
    task: &Repeats,
    layers: usize,
    steps: usize,
    seed: u64,
) -> Result<(AttentionOnly, History), Box<dyn Error>> {
    let mut model = AttentionOnly::<f32>::new(
        task.vocab(),
        INDUCTION_WIDTH,
        INDUCTION_HEADS,
        layers,
        task.time(),
        &mut StdRng::seed_from_u64(seed),
    );
    let lr = 3e-3;
    let mut cfg = TrainConfig::new(steps, 32, task.time(), lr);
    cfg.seed = seed;
    cfg.eval_every = (steps / 40).max(25);
    cfg.label = format!("induction, {layers} layer(s)");
    let history = train_repeats(&mut model, &mut AdamW::nanogpt(lr), task, &cfg, seed ^ 0x7a1)?;
    Ok((model, history))
}

/// The two heads of the mechanism in the 2-layer model: in layer 1 the head
/// that looks at the previous token, in layer 2 the one that looks one token
/// past the earlier occurrence of the current token; the second one's map.
fn induction_map(ch: &mut Chapter, model: &AttentionOnly, task: &Repeats) -> Result<(), Box<dyn Error>> {
    let test = task.sample(64, ch.seed() ^ 0x1d);
    let (n, rows) = (task.time(), test.batch.batch);
    let g = Graph::inference();
    let (_, maps) = model.forward_with_maps(&g, &test.batch.inputs, rows, n);
    let heads = model.layers[0].num_heads;
    // Mean weight of head `h` of `layer` on the position `from(r, t)`, over
    // the positions `at(r)` of every row `r`.
    type Rows<'a> = &'a dyn Fn(usize) -> std::ops::Range<usize>;
    type From<'a> = &'a dyn Fn(usize, usize) -> usize;
    let score = |layer: usize, h: usize, at: Rows, from: From| {
        let w = maps[layer].data();
        let (mut sum, mut count) = (0.0, 0);
        for r in 0..rows {
            let head = &w[(r * heads + h) * n * n..][..n * n];
            for t in at(r) {
                sum += head[t * n + from(r, t)] as f64;
                count += 1;
            }
        }
        sum / count as f64
    };
    let best = |layer: usize, at: Rows, from: From| {
        (0..heads)
            .map(|h| (h, score(layer, h, at, from)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0))
    };
    // Layer 1 at the block's positions 1..L (the keys the induction head
    // reads): weight on the previous token. Layer 2 over the copy: weight one
    // past the earlier occurrence of the current token.
    let block = |r: usize| 1..test.block_len[r];
    let previous = |_: usize, t: usize| t - 1;
    let copy = |r: usize| test.repeat_positions(r);
    let past_earlier = |r: usize, t: usize| t - test.block_len[r] + 1;
    let (prev_head, prev_w) = best(0, &block, &previous);
    let (ind_head, ind_w) = best(1, &copy, &past_earlier);
    println!(
        "   2 layers: layer 1, head {} puts {prev_w:.2} of its weight on the previous token (over the block); layer 2, head {} puts {ind_w:.2} one past the earlier occurrence (over the copy)",
        prev_head + 1,
        ind_head + 1
    );
    ch.record(
        "induction: weight of the best layer-1 head on the previous token",
        prev_w,
    );
    ch.record(
        "induction: weight of the best head one past the earlier occurrence",
        ind_w,
    );
    let w = &maps[1].data()[ind_head * n * n..(ind_head + 1) * n * n];
    let map: Vec<Vec<f64>> = (0..n)
        .map(|t| w[t * n..(t + 1) * n].iter().map(|&x| x as f64).collect())
        .collect();
    let labels: Vec<String> = (0..n)
        .map(|t| if t % 4 == 0 { t.to_string() } else { String::new() })
        .collect();
    let fig = ch.frame(
        &format!("Layer 2, head {}: an induction head", ind_head + 1),
        &format!("position attended to (the copy starts at {SHOWN_BLOCK})"),
        "position attending",
    );
    ch.heatmap("induction_head.svg", &fig, &map, (&labels, &labels), (0.0, 1.0))?;
    Ok(())
}

/// The explorer's induction prompt: a block of this many random tokens, its
/// copy, and a few fresh tokens, `EXPLORER_REPEAT_LEN` in all.
const EXPLORER_BLOCK: usize = 14;
const EXPLORER_REPEAT_LEN: usize = 36;

/// One prompt of the attention explorer, as the book's page shows it.
struct ExplorerPrompt {
    title: String,
    /// The model that read it: a key of the explorer's `models`.
    model: &'static str,
    /// What to look for, in a sentence or two.
    note: String,
    tokens: Vec<String>,
    /// `[layer][head][query]`: the query's weights on keys `0..=query`, in
    /// thousandths.
    weights: Vec<Vec<Vec<Vec<u32>>>>,
    /// For each query, where the task fixes it, the earlier position whose
    /// token is the right next token.
    answers: Vec<Option<usize>>,
}

/// A stretch of the corpus that ends in an answer, and where the story said
/// it last before (byte positions in the corpus, which is ASCII).
struct StoryWindow {
    start: usize,
    answer: Range<usize>,
    earlier: usize,
}

/// § The data of the book's attention explorer: for a few corpus stories (read
/// by the corpus Transformer) and a repeated sequence (read by the 2-layer
/// induction model), every head's causal attention weights, and where the
/// right earlier token is. Written as `attention.json`, as `attention-data.js`
/// (the same data as a script, which a page opened from disk can load), and
/// as one static figure per prompt.
fn attention_explorer(
    ch: &mut Chapter,
    data: &Dataset,
    corpus: Option<&Corpus>,
    gpt: &TransformerLM,
    induction: &AttentionOnly,
) -> Result<(), Box<dyn Error>> {
    ch.section("the attention explorer's data");
    let mut prompts = match corpus {
        Some(c) => story_windows(c)
            .iter()
            .enumerate()
            .map(|(i, w)| story_prompt(gpt, &data.tokenizer, &c.text, w, i + 1))
            .collect::<Result<Vec<_>, _>>()?,
        None => text_prompts(gpt, data)?,
    };
    prompts.push(induction_prompt(induction, ch.seed())?);
    for (i, p) in prompts.iter().enumerate() {
        let best = best_head_on_answers(p).map_or(String::new(), |(l, h, w)| {
            format!(
                "; layer {}, head {} puts {w:.2} on the right earlier token",
                l + 1,
                h + 1
            )
        });
        let mention = best_head_on_mention(p);
        if let Some((_, _, w)) = mention {
            let key = format!(
                "explorer: prompt {}, the best head's weight on the earlier mention",
                i + 1
            );
            ch.record(&key, w);
        }
        let mention = mention.map_or(String::new(), |(l, h, w)| {
            format!(
                "; at the answer's first letter, layer {}, head {} puts {w:.2} on the earlier mention",
                l + 1,
                h + 1
            )
        });
        println!("   {} ({} tokens){best}{mention}", p.title, p.tokens.len());
    }
    let cfg = &gpt.config;
    let (layers, heads) = (
        induction.layers.len(),
        induction.layers.first().map_or(0, |l| l.num_heads),
    );
    let models = json!({
        "corpus": {
            "layers": cfg.num_layers,
            "heads": cfg.num_heads,
            "about": format!(
                "the corpus Transformer: {} blocks of {} heads (width {}), trained on the text by the same run",
                cfg.num_layers, cfg.num_heads, cfg.embed_dim
            ),
        },
        "induction": {
            "layers": layers,
            "heads": heads,
            "about": format!(
                "the attention-only model: {layers} layers of {heads} heads (width {INDUCTION_WIDTH}), trained on repeated random tokens"
            ),
        },
    });
    write_explorer(ch, &models, &prompts)
}

/// The kinds of answer the explorer's stories show, one story each: a
/// container (someone hid something), a place (someone went or said where),
/// an object (a list repeated back).
const EXPLORER_KINDS: [AnswerKind; 3] = [AnswerKind::Container, AnswerKind::Place, AnswerKind::Object];

/// Held-out stories of the corpus, one for each of [`EXPLORER_KINDS`], each
/// cut to the last [`CONTEXT`] characters up to one of its answers (from a
/// story's or a word's start), in which the answer was stated earlier, word
/// for word.
fn story_windows(corpus: &Corpus) -> Vec<StoryWindow> {
    let text = &corpus.text;
    let held_out = text.len() - text.len() / 10;
    let mut found: Vec<(AnswerKind, StoryWindow)> = Vec::new();
    for r in &corpus.answers {
        if found.len() == EXPLORER_KINDS.len() {
            break;
        }
        let kind = AnswerKind::of(&text[r.clone()]);
        if !EXPLORER_KINDS.contains(&kind) || found.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        if r.start < held_out + CONTEXT || r.len() < 3 {
            continue;
        }
        let start = window_start(text, r.end - CONTEXT, r.start);
        let Some(earlier) = earlier_word(text, start..r.start, &text[r.clone()]) else {
            continue;
        };
        found.push((
            kind,
            StoryWindow {
                start,
                answer: r.clone(),
                earlier,
            },
        ));
    }
    // In the order of EXPLORER_KINDS, whatever order the corpus had them in.
    found.sort_by_key(|(k, _)| EXPLORER_KINDS.iter().position(|e| e == k));
    found.into_iter().map(|(_, w)| w).collect()
}

/// The last place in `text[within]` where `words` stands as whole words (not
/// inside a longer word: "hat" is not in "What").
fn earlier_word(text: &str, within: Range<usize>, words: &str) -> Option<usize> {
    let is_letter = |i: usize| text.as_bytes()[i].is_ascii_alphanumeric();
    text[within.clone()]
        .match_indices(words)
        .map(|(p, _)| within.start + p)
        .filter(|&at| (at == 0 || !is_letter(at - 1)) && !is_letter(at + words.len()))
        .last()
}

/// Where a window that may begin at `from` (and must hold `text[..before]`'s
/// end) begins: at the start of the last story before `before`, else at the
/// first word that starts at or after `from`.
fn window_start(text: &str, from: usize, before: usize) -> usize {
    if let Some(p) = text[from..before].rfind("\n\n") {
        return from + p + 2;
    }
    if from == 0 || text.as_bytes()[from - 1].is_ascii_whitespace() {
        return from;
    }
    text[from..before]
        .find(|c: char| c.is_ascii_whitespace())
        .map_or(from, |p| from + p + 1)
}

/// The corpus Transformer on one story window: at each query just before an
/// answer character, the right earlier token is the same character of the
/// answer's latest earlier mention.
fn story_prompt(
    gpt: &TransformerLM,
    tok: &CharTokenizer,
    text: &str,
    w: &StoryWindow,
    number: usize,
) -> Result<ExplorerPrompt, Box<dyn Error>> {
    let piece = &text[w.start..w.answer.end];
    let answer = &text[w.answer.clone()];
    let ids = tok.encode(piece)?;
    let mut answers = vec![None; ids.len()];
    let (at, earlier) = (w.answer.start - w.start, w.earlier - w.start);
    for k in 0..answer.len() {
        answers[at - 1 + k] = Some(earlier + k);
    }
    Ok(ExplorerPrompt {
        title: format!("Story {number}: the answer is {answer}"),
        model: "corpus",
        note: format!(
            "The story says \"{answer}\" at position {earlier} and ends by saying it again. At the positions just before each of its letters, a head that looks back at that earlier mention can copy the next letter from there."
        ),
        tokens: piece.chars().map(CharTokenizer::display_char).collect(),
        weights: corpus_weights(gpt, &ids),
        answers,
    })
}

/// Without the built-in corpus (a run on your own text): two held-out windows
/// of the text, each from the start of a word, with no answers marked.
fn text_prompts(gpt: &TransformerLM, data: &Dataset) -> Result<Vec<ExplorerPrompt>, Box<dyn Error>> {
    let tok = &data.tokenizer;
    let last = data.val.len() - CONTEXT;
    let mut prompts = Vec::new();
    for (number, from) in [(1, 0), (2, last / 2)] {
        // Skip to just after the first space or line break, if one is near.
        let start = (from..from + CONTEXT / 2)
            .find(|&i| tok.decode(&data.val[i..=i]).is_ok_and(|c| c.trim().is_empty()))
            .map_or(from, |i| i + 1)
            .min(last);
        let ids = &data.val[start..start + CONTEXT];
        prompts.push(ExplorerPrompt {
            title: format!("Text {number}: a held-out window"),
            model: "corpus",
            note: "A window of the held-out text: no position has a right earlier token marked.".into(),
            tokens: tok
                .decode(ids)?
                .chars()
                .map(CharTokenizer::display_char)
                .collect(),
            weights: corpus_weights(gpt, ids),
            answers: vec![None; ids.len()],
        });
    }
    Ok(prompts)
}

/// Every block's attention weights on `ids`, as explorer rows.
fn corpus_weights(gpt: &TransformerLM, ids: &[usize]) -> Vec<Vec<Vec<Vec<u32>>>> {
    gpt.attention_maps(ids, 1, ids.len())
        .iter()
        .map(|m| causal_rows(m.data(), ids.len()))
        .collect()
}

/// The 2-layer induction model on one repeated sequence: over the copy, the
/// right earlier token of position t is the one after the earlier occurrence
/// of t's token, t − L + 1.
fn induction_prompt(model: &AttentionOnly, seed: u64) -> Result<ExplorerPrompt, Box<dyn Error>> {
    let block = EXPLORER_BLOCK;
    let ids = Repeats::new(model.vocab_size(), EXPLORER_REPEAT_LEN, block, block)?
        .sample(1, seed ^ 0xe891)
        .batch
        .inputs;
    let g = Graph::inference();
    let (_, maps) = model.forward_with_maps(&g, &ids, 1, ids.len());
    let mut answers = vec![None; ids.len()];
    for t in block..2 * block - 1 {
        answers[t] = Some(t - block + 1);
    }
    Ok(ExplorerPrompt {
        title: format!("Repeated random tokens: a block of {block}, then its copy"),
        model: "induction",
        note: format!(
            "Tokens 0 to {} are random; from position {block} they repeat. In the copy, the next token is the one that followed the current token's earlier occurrence: an induction head looks there.",
            block - 1
        ),
        tokens: ids.iter().map(|i| i.to_string()).collect(),
        weights: maps.iter().map(|m| causal_rows(m.data(), ids.len())).collect(),
        answers,
    })
}

/// The causal rows of one layer's weights `[1, H, n, n]`: for each head, query
/// i's weights on keys 0..=i (the rest are masked to zero), in thousandths.
fn causal_rows(map: &[f32], n: usize) -> Vec<Vec<Vec<u32>>> {
    map.chunks(n * n)
        .map(|head| (0..n).map(|i| thousandths(&head[i * n..=i * n + i])).collect())
        .collect()
}

/// A row of weights in whole thousandths that still sums to exactly 1000:
/// each scaled weight rounded down, and the thousandths left over given to
/// the largest remainders (the largest-remainder method), so no weight moves
/// by a thousandth or more.
fn thousandths(row: &[f32]) -> Vec<u32> {
    let total: f64 = row.iter().map(|&w| w as f64).sum();
    let scaled: Vec<f64> = row.iter().map(|&w| w as f64 / total * 1000.0).collect();
    let mut out: Vec<u32> = scaled.iter().map(|x| x.floor() as u32).collect();
    let left = 1000usize.saturating_sub(out.iter().sum::<u32>() as usize);
    let mut order: Vec<usize> = (0..row.len()).collect();
    order.sort_by(|&a, &b| (scaled[b] - scaled[b].floor()).total_cmp(&(scaled[a] - scaled[a].floor())));
    for &i in order.iter().take(left) {
        out[i] += 1;
    }
    out
}

/// The head that puts the most weight on the right earlier tokens, on
/// average over the queries that have one: (layer, head, mean weight).
fn best_head_on_answers(p: &ExplorerPrompt) -> Option<(usize, usize, f64)> {
    let asked: Vec<(usize, usize)> = p
        .answers
        .iter()
        .enumerate()
        .filter_map(|(q, a)| a.map(|a| (q, a)))
        .collect();
    if asked.is_empty() {
        return None;
    }
    let mean = |rows: &[Vec<u32>]| {
        asked
            .iter()
            .map(|&(q, a)| rows[q][a] as f64 / 1000.0)
            .sum::<f64>()
            / asked.len() as f64
    };
    best_head(p, mean)
}

/// In a story, at the query just before the answer's first letter: the head
/// (layer, head) with the most weight on the whole earlier mention of the
/// answer (the letters its right earlier tokens point into), and that weight.
/// `None` for a prompt whose marked positions do not form one answer.
fn best_head_on_mention(p: &ExplorerPrompt) -> Option<(usize, usize, f64)> {
    if p.model != "corpus" {
        return None;
    }
    let q = p.answers.iter().position(Option::is_some)?;
    let len = p.answers[q..].iter().take_while(|a| a.is_some()).count();
    let first = p.answers[q]?;
    best_head(p, |rows| {
        rows[q][first..first + len].iter().sum::<u32>() as f64 / 1000.0
    })
}

/// The head (layer, head) of `p` whose weights `[query][key]` score highest,
/// and its score.
fn best_head(p: &ExplorerPrompt, score: impl Fn(&[Vec<u32>]) -> f64) -> Option<(usize, usize, f64)> {
    p.weights
        .iter()
        .enumerate()
        .flat_map(|(l, heads)| heads.iter().enumerate().map(move |(h, rows)| (l, h, rows)))
        .map(|(l, h, rows)| (l, h, score(rows)))
        .max_by(|a, b| a.2.total_cmp(&b.2))
}

/// Writes the explorer's data (`attention.json`, and `attention-data.js`,
/// which sets `window.SHORTMEM_ATTENTION` to the same object) and, for a
/// reader without JavaScript, one figure per prompt: `attention_N.svg`.
fn write_explorer(
    ch: &mut Chapter,
    models: &serde_json::Value,
    prompts: &[ExplorerPrompt],
) -> Result<(), Box<dyn Error>> {
    let weight = |k: &u32| match k {
        0 => json!(0),
        1000 => json!(1),
        k => json!(*k as f64 / 1000.0),
    };
    let listed: Vec<serde_json::Value> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let weights: Vec<Vec<Vec<Vec<serde_json::Value>>>> = p
                .weights
                .iter()
                .map(|heads| {
                    heads
                        .iter()
                        .map(|rows| rows.iter().map(|r| r.iter().map(weight).collect()).collect())
                        .collect()
                })
                .collect();
            json!({
                "title": p.title,
                "model": p.model,
                "note": p.note,
                "figure": format!("attention_{}.svg", i + 1),
                "tokens": p.tokens,
                "answers": p.answers,
                "weights": weights,
            })
        })
        .collect();
    let text = serde_json::to_string(&json!({
        "made_by": ch.command,
        "models": models,
        "prompts": listed,
    }))?;
    let write = |path: std::path::PathBuf, content: &str| {
        std::fs::write(&path, content).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write(ch.figure("attention.json"), &text)?;
    let script = format!(
        "// The attention explorer's data, the same as attention.json (made by: {}).\nwindow.SHORTMEM_ATTENTION = {text};\n",
        ch.command
    );
    write(ch.figure("attention-data.js"), &script)?;
    for (i, p) in prompts.iter().enumerate() {
        explorer_figure(ch, &format!("attention_{}.svg", i + 1), p)?;
    }
    println!(
        "   the explorer's data: {} prompts, {} kB of JSON",
        prompts.len(),
        text.len() / 1000
    );
    Ok(())
}

/// One prompt's heads as a grid of heatmaps: a row per layer, the right
/// earlier tokens outlined.
fn explorer_figure(ch: &mut Chapter, name: &str, p: &ExplorerPrompt) -> Result<(), Box<dyn Error>> {
    let marks: Vec<(usize, usize)> = p
        .answers
        .iter()
        .enumerate()
        .filter_map(|(q, a)| a.map(|a| (q, a)))
        .collect();
    let heads = p.weights.first().map_or(1, |l| l.len());
    let panels: Vec<AttentionPanel> = p
        .weights
        .iter()
        .enumerate()
        .flat_map(|(l, layer)| {
            let marks = &marks;
            layer.iter().enumerate().map(move |(h, rows)| AttentionPanel {
                title: format!("layer {}, head {}", l + 1, h + 1),
                rows: rows
                    .iter()
                    .map(|r| r.iter().map(|&k| k as f64 / 1000.0).collect())
                    .collect(),
                marks: marks.clone(),
            })
        })
        .collect();
    let fig = ch.frame(
        &p.title,
        "columns: the position looked at (outlined: the earlier token that holds the answer)",
        "rows: the position that looks",
    );
    plot::attention_grid(ch.figure(name), &fig, &panels, heads)?;
    Ok(())
}
