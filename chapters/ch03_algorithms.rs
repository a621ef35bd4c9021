//! Chapter 3: the algorithms, step by step.
//!
//! §3.1: the RNN's four-step generation loop traced on a tiny example, then an
//! RNN trained on the corpus and sampled. §3.2: the GPT's five steps traced the
//! same way, then a Transformer trained and sampled, with a map of where it
//! looks. Then both memories measured side by side: the loss on story answers,
//! and the recall of a symbol seen k steps earlier.
//!
//! ```text
//! cargo run --release --bin ch03
//! ```

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::autograd::Converted;
use shortmem::chapter::{
    Chapter, ChapterResult, CommonArgs, Program, Transcript, check_memory, mean_sd, output_dir,
    positive_usize, sizes, the_corpus, usage_error,
};
use shortmem::data::{CharTokenizer, Corpus, Dataset, Mqar, MqarSplits, RecallTask};
use shortmem::models::{
    Activation, Gru, LanguageModel, NGram, Rnn, Smoothing, TransformerConfig, TransformerLM,
};
use shortmem::optim::AdamW;
use shortmem::plot::{Legend, Mark, Series, smooth};
use shortmem::sample::{GenerateError, Sampling, argmax, probabilities};
use shortmem::tasks::{
    Curriculum, MqarAnswers, TEST_SEED, mqar_answers, per_token_loss, recall_accuracy, train_mqar,
    train_recall, train_recall_curriculum,
};
use shortmem::train::{self, History, TrainConfig};
use shortmem::{Graph, Tensor};
use std::error::Error;

pub const PROGRAM: Program = Program {
    id: "ch03",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch03",
    allow_negative_numbers = true,
    about = "Chapter 3: the RNN loop of §3.1 and the GPT steps of §3.2, traced, trained, sampled, and their memory",
    mut_arg("steps", |a| a.help(format!("Training steps of the RNN and the GPT of §3 [default: {}; {} with --quick] (the memory-span and MQAR models have their own)", DEFAULT.steps, QUICK.steps)))
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Hidden size H of the corpus RNN.
    #[arg(long, default_value_t = 256, value_parser = positive_usize)]
    pub hidden: usize,
    /// How new text is chosen: greedy, temp:T or topk:K:T.
    #[arg(long, default_value = "topk:5:0.8")]
    pub sampling: Sampling,
    /// The book's larger sweep: more RNN sizes and seeds for the memory span.
    #[arg(long, conflicts_with = "quick")]
    pub full: bool,
}

/// The sizes of a run.
struct Sizes {
    /// Training steps of the corpus models (`--steps`).
    steps: usize,
    /// The corpus RNN's H (`None`: `--hidden`).
    hidden: Option<usize>,
    /// The corpus Transformer's width and feed-forward width.
    embed: usize,
    ff: usize,
    /// Memory span: the distances k tested, the longest trained on, the
    /// training steps, the RNN sizes, the seeds per model, the test sequences
    /// per k.
    ks: &'static [usize],
    span_k_max: usize,
    span_steps: usize,
    span_hidden: &'static [usize],
    span_seeds: usize,
    span_test: usize,
    /// MQAR: the (length, pairs, width) cells, the seeds, the training steps.
    mqar_cells: &'static [(usize, usize, usize)],
    mqar_seeds: usize,
    mqar_steps: usize,
}

const DEFAULT: Sizes = Sizes {
    steps: 2000,
    hidden: None,
    embed: 64,
    ff: 256,
    ks: &[1, 2, 4, 8, 16, 32, 64, 128, 256],
    span_k_max: 64,
    span_steps: 1200,
    span_hidden: &[32, 64],
    span_seeds: 3,
    span_test: 1000,
    mqar_cells: &[(64, 4, 64)],
    mqar_seeds: 1,
    mqar_steps: 1000,
};
/// `--full`: more RNN sizes and seeds, and gaps to 512.
const FULL: Sizes = Sizes {
    ks: &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    span_hidden: &[16, 32, 64, 128],
    span_seeds: 5,
    mqar_cells: &[(64, 4, 32), (64, 4, 64), (64, 4, 128), (128, 8, 64)],
    mqar_seeds: 3,
    ..DEFAULT
};
const QUICK: Sizes = Sizes {
    steps: 40,
    hidden: Some(64),
    embed: 32,
    ff: 64,
    ks: &[1, 2, 4, 8],
    span_k_max: 8,
    span_steps: 60,
    span_hidden: &[32],
    span_seeds: 1,
    span_test: 200,
    mqar_cells: &[(16, 2, 16)],
    mqar_seeds: 1,
    mqar_steps: 30,
};

pub fn run(args: Args) -> ChapterResult {
    let size = if args.full {
        FULL
    } else {
        sizes(&args.common, DEFAULT, QUICK)
    };
    let mut extra = if args.hidden != 256 {
        vec![format!("--hidden {}", args.hidden)]
    } else {
        vec![]
    };
    if args.full {
        extra.push("--full".into());
    }
    let hidden = size.hidden.unwrap_or(args.hidden);
    // About what training holds, in f32: U, W, V (up to 256 characters) with
    // gradients and AdamW's moments, and 32 streams × 64 steps of states, each
    // kept with its pre-activation and their gradients.
    let (h, vocab) = (args.hidden as f64, 256.0);
    let bytes = 4.0 * (4.0 * (h * h + 2.0 * vocab * h) + 32.0 * 64.0 * 4.0 * h);
    check_memory(&format!("--hidden {}", args.hidden), bytes)
        .map_err(|e| usage_error(<Args as clap::CommandFactory>::command(), e))?;
    let mut common = args.common;
    if args.full && common.out.is_none() {
        // The larger sweep keeps its own figures, beside the default run's.
        common.out = Some(output_dir("ch03", &common).join("full"));
    }
    let mut ch = Chapter::start("ch03", "The algorithms, step by step", common, &extra)?;

    trace_both_loops(&mut ch)?;
    let (name, data, corpus) = ch.dataset()?;
    let why = "the RNN reads 32 parallel streams of 65 characters and more, the samples start from the validation text";
    ch.require_text(&name, &data, (32 * 65 + 1, 20), why)?;
    let (rnn, gpt) = train_both(&mut ch, &name, &data, &size, hidden, args.sampling)?;
    attention_map(&mut ch, &gpt, &data.tokenizer)?;
    if let Some(corpus) = &corpus {
        answer_losses(&mut ch, &data, corpus, &rnn, &gpt)?;
    }
    memory_span(&mut ch, &size)?;
    many_facts(&mut ch, &size)?;
    ch.finish()
}

fn fmt_vec(v: &[f32]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:+.3}")).collect();
    format!("[{}]", items.join(", "))
}

/// The tiny alphabet of the traces.
fn tiny_tokenizer() -> CharTokenizer {
    CharTokenizer::from_text("abc.")
}

/// § Both loops traced value by value, into `trace.txt` for the book.
fn trace_both_loops(ch: &mut Chapter) -> Result<(), Box<dyn Error>> {
    ch.section("§3.1 and §3.2 traced");
    let mut trace = Transcript::default();
    trace_rnn(ch.seed(), &mut trace);
    trace_gpt(ch.seed(), &mut trace);
    ch.write_transcript("trace.txt", &trace)?;
    Ok(())
}

/// §3.1's four steps on a 4-character alphabet and H = 3, printing every value.
fn trace_rnn(seed: u64, tr: &mut Transcript) {
    let tok = tiny_tokenizer();
    let ch = |id: usize| tok.char(id).unwrap_or('?');
    let rnn = Rnn::<f32>::new(4, 3, Activation::Tanh, &mut StdRng::seed_from_u64(seed));
    tr.say(format!(
        "§3.1 traced: vocabulary {:?} (V = 4), hidden size H = 3, untrained weights",
        tok.alphabet()
    ));
    tr.say("U [3×4], W [3×3], b [3], V [4×3], c [4]; h_0 = 0");
    let (mut h, mut x) = (Tensor::zeros([1, 3]), tok.id('a').expect("in the alphabet"));
    for t in 1..=3 {
        // The model: one step of Eq. 4.1, then the output distribution.
        let g = Graph::inference();
        let h_prev = g.constant(h.clone());
        let u_x = g.param(&rnn.u).columns(&[x]).value();
        let w_h = h_prev.matmul_t(g.param(&rnn.w)).value();
        let h_t = rnn.step(&g, &[x], h_prev);
        let y_t = rnn.output(&g, h_t).softmax().value();
        let (h_t, next) = (h_t.value(), argmax(y_t.data()));
        // What it computed.
        let (prev, now) = (format!("h_{}", t - 1), format!("h_{t}"));
        tr.anchor(&format!("rnn_t{t}"));
        tr.say(format!("t = {t}"));
        tr.say(format!(
            "  1. x_{t} = {:?} (id {x}, one-hot of length 4); {prev} {} = {}",
            ch(x),
            h.shape(),
            fmt_vec(h.data())
        ));
        tr.say(format!(
            "  2. U x_{t} = {}   W {prev} = {}",
            fmt_vec(u_x.data()),
            fmt_vec(w_h.data())
        ));
        tr.say(format!(
            "     {now} = tanh(U x_{t} + W {prev} + b) {} = {}",
            h_t.shape(),
            fmt_vec(h_t.data())
        ));
        tr.say(format!(
            "  3. y_{t} = softmax(V {now} + c) {} = {}",
            y_t.shape(),
            fmt_vec(y_t.data())
        ));
        tr.say(format!("  4. x_{} = argmax y_{t} = {:?}", t + 1, ch(next)));
        tr.end(&format!("rnn_t{t}"));
        tr.say(String::new());
        (h, x) = (h_t, next);
    }
}

/// The Transformer of the §3.2 trace: the trace's alphabet, D = 4, 2 heads, one block.
const TINY_GPT: TransformerConfig = TransformerConfig {
    vocab_size: 4,
    embed_dim: 4,
    num_heads: 2,
    ff_dim: 8,
    num_layers: 1,
    context: 8,
    causal: true,
};

/// What one round of §3.2 computes for a sequence of n tokens.
struct GptRound {
    e: Tensor,
    e_tilde: Tensor,
    weights: Tensor,
    c: Tensor,
    c_tilde: Tensor,
    y: Vec<f32>,
    next: usize,
}

/// One round of §3.2's five steps for the sequence `ids`.
fn gpt_round(lm: &TransformerLM, ids: &[usize]) -> GptRound {
    let n = ids.len();
    let g = Graph::inference();
    let e = lm.embed.forward(&g, ids, [1, n]); // 1. X → E
    let e_tilde = e + g.constant(lm.positions(n)); // 2. Ẽ = E + P
    let block = &lm.blocks[0]; // 3. the block: attention (C), then feed-forward (C̃)
    let (attended, weights) = block.attention.forward_with_weights(&g, e_tilde, true);
    let c = block.norm1.forward(&g, attended + e_tilde);
    let c_tilde = block.norm2.forward(&g, block.ff.forward(&g, c) + c);
    let logits = lm.out.forward(&g, c_tilde).value(); // 4. y_n = softmax(c̃_n W_o + b_o)
    let y: Vec<f32> = probabilities(&logits.data()[(n - 1) * 4..])
        .iter()
        .map(|&p| p as f32)
        .collect();
    let next = argmax(&y); // 5. choose x_{n+1}
    let (e, e_tilde, c, c_tilde) = (e.value(), e_tilde.value(), c.value(), c_tilde.value());
    GptRound {
        e,
        e_tilde,
        weights,
        c,
        c_tilde,
        y,
        next,
    }
}

/// §3.2's five steps on the same alphabet, two rounds, printing every value.
fn trace_gpt(seed: u64, tr: &mut Transcript) {
    let tok = tiny_tokenizer();
    let ch = |id: usize| tok.char(id).unwrap_or('?');
    let lm = TransformerLM::<f32>::new(TINY_GPT, &mut StdRng::seed_from_u64(seed));
    tr.say("§3.2 traced: the same alphabet, D = 4, 2 heads of width 2, one block, untrained weights");
    let mut ids: Vec<usize> = "ab".chars().filter_map(|c| tok.id(c)).collect();
    for round in 1..=2 {
        let (n, r) = (ids.len(), gpt_round(&lm, &ids));
        let text: String = ids.iter().map(|&i| ch(i)).collect();
        tr.anchor(&format!("gpt_round{round}"));
        tr.say(format!("round {round}: X = {text:?} (n = {n})"));
        for (t, row) in r.e.data().chunks(4).enumerate() {
            tr.say(format!("  1. e_{} = {}", t + 1, fmt_vec(row)));
        }
        for (t, row) in r.e_tilde.data().chunks(4).enumerate() {
            tr.say(format!(
                "  2. ẽ_{} = e_{} + p_{t} = {}",
                t + 1,
                t + 1,
                fmt_vec(row)
            ));
        }
        for (head, a) in r.weights.data().chunks(n * n).enumerate() {
            let rows: Vec<String> = a.chunks(n).map(fmt_vec).collect();
            let rows = rows.join(" ");
            tr.say(format!(
                "  3. attention weights of head {head} (row t: what position t takes from each): {rows}"
            ));
        }
        let last = |v: &Tensor| fmt_vec(&v.data()[(n - 1) * 4..]);
        tr.say(format!("     c_{n} = norm1(attention + ẽ) = {}", last(&r.c)));
        tr.say(format!(
            "     c̃_{n} = norm2(ff(c) + c)     = {}",
            last(&r.c_tilde)
        ));
        tr.say(format!(
            "  4. y_{n} = softmax(c̃_{n} W_o + b_o) = {}",
            fmt_vec(&r.y)
        ));
        tr.say(format!("  5. x_{} = argmax y_{n} = {:?}", n + 1, ch(r.next)));
        tr.end(&format!("gpt_round{round}"));
        tr.say(String::new());
        ids.push(r.next);
    }
}

/// § Both models trained on the same corpus, with the same batches and budget,
/// then sampled.
fn train_both(
    ch: &mut Chapter,
    name: &str,
    data: &Dataset,
    size: &Sizes,
    hidden: usize,
    sampling: Sampling,
) -> Result<(Rnn, TransformerLM), Box<dyn Error>> {
    ch.section("the RNN of §3.1 and the Transformer of §3.2, trained");
    let seed = ch.seed();
    // The Transformer learns to look answers up within the budget only at the
    // larger rate (at 3e-3 it is still far from it after 2,000 steps); the RNN
    // does worse at 6e-3 than at 3e-3.
    let (rnn_lr, gpt_lr) = (3e-3, 6e-3);
    let mut cfg = TrainConfig::new(ch.steps(size.steps), 32, 64, rnn_lr);
    cfg.seed = seed;
    cfg.label = "rnn".into();
    let mut rnn = Rnn::<f32>::new(
        data.vocab_size(),
        hidden,
        Activation::Tanh,
        &mut StdRng::seed_from_u64(seed),
    );
    let sample = |m: &Rnn, p: &[usize]| m.generate(p, 300, sampling, &mut StdRng::seed_from_u64(seed));
    let rnn_hist = train_and_sample(ch, &mut rnn, data, &cfg, &format!("RNN (H = {hidden})"), sample)?;
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: size.embed,
        num_heads: 4,
        ff_dim: size.ff,
        num_layers: 2,
        context: 64,
        causal: true,
    };
    let mut gpt = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    cfg.label = "transformer".into();
    cfg.schedule = TrainConfig::new(cfg.steps, 32, 64, gpt_lr).schedule;
    let key = format!("Transformer (2 blocks, D = {})", config.embed_dim);
    let sample =
        |m: &TransformerLM, p: &[usize]| m.generate(p, 300, sampling, &mut StdRng::seed_from_u64(seed), true);
    let gpt_hist = train_and_sample(ch, &mut gpt, data, &cfg, &key, sample)?;
    let fig = ch.frame(
        &format!("§3.1 RNN and §3.2 Transformer on {}", the_corpus(name)),
        "step",
        "cross-entropy (nats per character)",
    );
    let series = [
        Series::line(&format!("RNN, H = {hidden}: train"), smooth(&rnn_hist.train, 25)).with_color(0),
        Series::line("RNN: validation", rnn_hist.val_points())
            .with_mark(Mark::Points)
            .with_color(0),
        Series::line("Transformer: train", smooth(&gpt_hist.train, 25)).with_color(1),
        Series::line("Transformer: validation", gpt_hist.val_points())
            .with_mark(Mark::Points)
            .with_color(1),
    ];
    ch.lines("training.svg", &fig, &series)?;
    Ok((rnn, gpt))
}

/// Trains a model on the corpus with the common trainer, records it and prints
/// (and records) a sample continuing a story.
fn train_and_sample<M: LanguageModel>(
    ch: &mut Chapter,
    model: &mut M,
    data: &Dataset,
    cfg: &TrainConfig,
    key: &str,
    sample: impl Fn(&M, &[usize]) -> Result<Vec<usize>, GenerateError>,
) -> Result<History, Box<dyn Error>> {
    let history = train::train(model, &mut AdamW::nanogpt(cfg.schedule.peak()), data, cfg)?;
    ch.record_training(key, &history, cfg.steps);
    let tok = &data.tokenizer;
    let prompt = tok
        .encode("Mia put the key in the ")
        .unwrap_or_else(|_| data.val[..20].to_vec());
    let text = format!(
        "{}{}",
        tok.decode(&prompt)?,
        tok.decode(&sample(model, &prompt)?)?
    );
    println!("   sample:");
    for line in text.lines().take(6) {
        println!("     | {line}");
    }
    println!();
    ch.record(&format!("{key} sample"), text);
    Ok(history)
}

/// § Where the trained Transformer looks while it reads a story: the head of
/// the last block that reaches furthest back from the question, as a heatmap.
fn attention_map(ch: &mut Chapter, lm: &TransformerLM, tok: &CharTokenizer) -> Result<(), Box<dyn Error>> {
    let story = "Zoe: I put the ring in the blue bag.\nTom: In the ";
    let Ok(ids) = tok.encode(story) else { return Ok(()) };
    if ids.len() > lm.config.context {
        return Ok(());
    }
    ch.section("where the Transformer looks");
    let n = ids.len();
    let maps = lm.attention_maps(&ids, 1, n);
    let last = maps.last().expect("at least one block").data();
    // Row i of head h: what position i takes from each position.
    let row =
        |h: usize, i: usize| -> Vec<f64> { last[(h * n + i) * n..][..n].iter().map(|&w| w as f64).collect() };
    // The head whose last row (the position that must say "blue bag") reaches
    // furthest back: that is where the memory is.
    let reach = |h: usize| -> f64 {
        row(h, n - 1)
            .iter()
            .enumerate()
            .map(|(j, w)| w * (n - 1 - j) as f64)
            .sum()
    };
    let head = (0..lm.config.num_heads)
        .max_by(|&a, &b| reach(a).total_cmp(&reach(b)))
        .unwrap_or(0);
    let values: Vec<Vec<f64>> = (0..n).map(|i| row(head, i)).collect();
    let labels: Vec<String> = story.chars().map(CharTokenizer::display_char).collect();
    let fig = ch.frame(
        &format!("Where the Transformer looks: last block, head {head}"),
        "key position (the text it reads)",
        "query position (the text it writes)",
    );
    ch.heatmap("attention_map.svg", &fig, &values, (&labels, &labels), (0.0, 1.0))?;
    let mut top: Vec<(usize, f64)> = values[n - 1].iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    let described: Vec<String> = top
        .iter()
        .take(3)
        .map(|(j, w)| format!("{:?} at {j} ({w:.2})", story.chars().nth(*j).unwrap_or('?')))
        .collect();
    println!(
        "   attention of the last position in head {head}: {}",
        described.join(", ")
    );
    // How much of that last row goes to the fact, the first "blue bag", and
    // to which of its letters most.
    let fact = story.find("blue bag").expect("the story states its fact");
    let span = fact..fact + "blue bag".len();
    let on_fact: f64 = values[n - 1][span.clone()].iter().sum();
    let most = span
        .max_by(|&a, &b| values[n - 1][a].total_cmp(&values[n - 1][b]))
        .expect("the fact has letters");
    let letter = story[most..].chars().next().unwrap_or('?');
    println!(
        "   weight of the last position on the fact \"blue bag\" {} characters back: {on_fact:.2}, {:.2} of it on its {letter:?}",
        n - 1 - fact,
        values[n - 1][most]
    );
    ch.record("attention map: weight of the answer on the fact", on_fact);
    ch.record(
        "attention map: letter of the fact it reads most",
        String::from(letter),
    );
    ch.record("attention map: weight on that letter", values[n - 1][most]);
    let next = tok.char(argmax(&lm.next_logits(&ids))).unwrap_or('?');
    println!("   the model continues {story:?} with {next:?}\n");
    ch.record("attention map: next character predicted", String::from(next));
    Ok(())
}

/// § Memory in practice: the loss on the first character of story answers, for
/// the 8-gram, the RNN and the Transformer.
fn answer_losses(
    ch: &mut Chapter,
    data: &Dataset,
    corpus: &Corpus,
    rnn: &Rnn,
    gpt: &TransformerLM,
) -> Result<(), Box<dyn Error>> {
    ch.section("memory in practice: story answers");
    let split = data.train.len();
    let starts = &corpus.answer_start_mask()[split..split + data.val.len()];
    let answers = &corpus.answer_mask()[split..split + data.val.len()];
    // per_token_loss[i] scores val[i + 1]: shift the masks by one.
    let mean_on = |loss: &[f64], mask: &[bool], want: bool| -> f64 {
        let picked: Vec<f64> = (8..loss.len())
            .filter(|&i| mask[i + 1] == want)
            .map(|i| loss[i])
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
    };
    // (label, the short name of the summary's contract keys, per-token loss)
    let models = [
        ("8-gram (Witten-Bell)", "8-gram", ngram_per_token_loss(data)),
        ("RNN (§3.1)", "RNN", per_token_loss(rnn, &data.val, 64)),
        (
            "Transformer (§3.2)",
            "Transformer",
            per_token_loss(gpt, &data.val, 64),
        ),
    ];
    println!(
        "   loss (nats/char) on held-out text: {:<26} {:>14} {:>14}",
        "", "answer starts", "other chars"
    );
    let (mut labels, mut values) = (Vec::new(), Vec::new());
    for (label, short, loss) in &models {
        let (on, off) = (mean_on(loss, starts, true), mean_on(loss, answers, false));
        println!("   {label:>61} {on:>14.3} {off:>14.3}");
        ch.record(&format!("{label}: answer-start nats/char"), on);
        ch.record(&format!("{label}: other nats/char"), off);
        ch.record(&format!("corpus: {short} answer-start nats/char"), on);
        labels.push(label.to_string());
        values.push(on);
    }
    println!();
    let fig = ch.frame(
        "Memory in practice: loss on the first character of story answers",
        "model",
        "cross-entropy on answer starts (nats)",
    );
    ch.bars("answer_loss.svg", &fig, &labels, &values)?;
    let best = (0..3)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    ch.finding(format!(
        "On the first character of a story's answer, the 8-gram pays {:.2} nats, the RNN {:.2}, the Transformer {:.2}; \
         the {} answers best.",
        values[0], values[1], values[2], labels[best]
    ));
    Ok(())
}

/// The 8-gram's loss on every prediction of the validation text, laid out as
/// [`per_token_loss`] lays it out (entry i scores token i + 1; the first 8 have
/// too little history and are NaN).
fn ngram_per_token_loss(data: &Dataset) -> Vec<f64> {
    let ngram = NGram::fit(&data.train, data.vocab_size(), 8);
    let val = &data.val;
    let loss = |i: usize| {
        -ngram
            .prob(&val[i - 7..=i], val[i + 1], 8, Smoothing::WittenBell)
            .ln()
    };
    (0..val.len() - 1)
        .map(|i| if i < 8 { f64::NAN } else { loss(i) })
        .collect()
}
/// § The memory span: recall of a symbol seen k steps earlier. Each model is
/// trained with a curriculum (gaps from 1 to 2, widened as recall passes 90 %,
/// up to `span_k_max`), then tested on fresh sequences at every k, over several
/// seeds; beside them the control that shows why: the same RNN trained on all
/// gaps at once, and how far back its gradient reaches.
fn memory_span(ch: &mut Chapter, size: &Sizes) -> Result<(), Box<dyn Error>> {
    ch.section("the memory span");
    let task = RecallTask::default();
    let chance = 1.0 / task.symbols as f64;
    println!(
        "   recall of a symbol after k distractors, on {} fresh test sequences per k; mean ± spread over {} seeds (chance = {chance:.3})",
        size.span_test, size.span_seeds
    );
    if size.span_seeds < 3 {
        println!("   (a smoke run: {} seed, a small test set)", size.span_seeds);
    }
    println!(
        "   {:>26}{}",
        "model \\ k",
        size.ks.iter().map(|k| format!(" {k:>11}")).collect::<String>()
    );
    let mut series = Vec::new();
    let mut rnn_at_64 = Vec::new();
    for &h in size.span_hidden {
        let curve = over_seeds(ch, size, &format!("RNN, H = {h}"), size.ks, &mut |seed| {
            let init = &mut StdRng::seed_from_u64(seed);
            let mut rnn = Rnn::<f32>::new(task.vocab(), h, Activation::Tanh, init);
            let cfg = recall_config(size, 3e-3, seed, &format!("recall RNN {h}"));
            train_recall_curriculum(&mut rnn, &mut AdamW::nanogpt(3e-3), &task, curriculum(size), &cfg)?;
            Ok(Box::new(rnn))
        })?;
        rnn_at_64.push((h, curve.clone()));
        series.push(curve.series(&format!("RNN, H = {h}"), series.len()));
    }
    let gpt_ks: Vec<usize> = size
        .ks
        .iter()
        .copied()
        .filter(|&k| k <= size.span_k_max)
        .collect();
    let mut last_gpt = None;
    let gpt = over_seeds(ch, size, "Transformer, D = 64", &gpt_ks, &mut |seed| {
        let config = TransformerConfig {
            vocab_size: task.vocab(),
            embed_dim: 64,
            num_heads: 4,
            ff_dim: 128,
            num_layers: 2,
            context: size.span_k_max + 2,
            causal: true,
        };
        let mut gpt = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
        let cfg = recall_config(size, 1e-3, seed, "recall transformer");
        train_recall_curriculum(&mut gpt, &mut AdamW::nanogpt(1e-3), &task, curriculum(size), &cfg)?;
        // (A copy for the attention map, rebuilt from its own parameters.)
        last_gpt = Some(TransformerLM::<f32>::new(config, &mut Converted::from(&gpt)));
        Ok(Box::new(gpt))
    })?;
    series.push(gpt.series("Transformer, D = 64 (context 66)", series.len()));
    let control_h = size.span_hidden[size.span_hidden.len() - 1];
    let control = over_seeds(
        ch,
        size,
        &format!("control: RNN {control_h}, no curriculum"),
        size.ks,
        &mut |seed| {
            let init = &mut StdRng::seed_from_u64(seed);
            let mut rnn = Rnn::<f32>::new(task.vocab(), control_h, Activation::Tanh, init);
            let cfg = recall_config(size, 3e-3, seed, "recall RNN, all gaps at once");
            train_recall(
                &mut rnn,
                &mut AdamW::nanogpt(3e-3),
                &task,
                1..=size.span_k_max,
                &cfg,
            )?;
            Ok(Box::new(rnn))
        },
    )?;
    series.push(
        control
            .series(
                &format!("RNN, H = {control_h}, trained on all gaps at once"),
                series.len(),
            )
            .with_mark(Mark::Dashed),
    );
    series.push(Series::reference("chance (1 in 8)", chance));
    let fig = ch
        .frame(
            "Memory span: recall of a symbol seen k steps earlier",
            "k (distractors between the symbol and the question), log scale",
            "recall accuracy (mean ± sd over seeds)",
        )
        .log2_x()
        .legend(Legend::Outside);
    ch.lines("memory_span.svg", &fig, &series)?;
    record_span(ch, size, &rnn_at_64, &gpt, &control);
    gradient_reach(ch, &task, control_h, size)?;
    if let Some(gpt) = last_gpt {
        recall_attention(ch, &gpt, &task, size.span_k_max.min(24))?;
    }
    Ok(())
}

/// § Many facts at once: multi-query associative recall (Zoology's MQAR) for
/// the attention model, the §4.1 RNN and a GRU of the same width, then the
/// accuracy against the bytes each keeps about the past.
fn many_facts(ch: &mut Chapter, size: &Sizes) -> Result<(), Box<dyn Error>> {
    ch.section("many facts at once: multi-query associative recall");
    println!(
        "   32 keys, 32 values; 20,000 training sequences, 1,000 test sequences none of which is in training; {} seed(s), {} steps",
        size.mqar_seeds, size.mqar_steps
    );
    if size.mqar_seeds < 3 {
        println!(
            "   ({} seed only, to keep to the chapter's time; --full runs 3 seeds and more cells)",
            size.mqar_seeds
        );
    }
    let mut memory = Vec::new();
    for &(len, pairs, d) in size.mqar_cells {
        let task = Mqar::new(32, pairs, len);
        let splits = task.splits(20_000, 256, 1000, ch.seed());
        for kind in MqarModel::ALL {
            let seeds = (0..size.mqar_seeds).map(|s| ch.seed() + 1000 * s as u64);
            let runs = seeds
                .map(|seed| mqar_run(kind, &task, &splits, d, size.mqar_steps, seed))
                .collect::<Result<Vec<MqarAnswers>, _>>()?;
            let accuracies: Vec<f64> = runs.iter().map(|r| r.accuracy).collect();
            let (mean, sd) = mean_sd(&accuracies);
            // Accuracy by the asked pair's place in the opening list, over seeds.
            let by_pair: Vec<f64> = (0..pairs)
                .map(|i| runs.iter().map(|r| r.by_pair[i]).sum::<f64>() / runs.len() as f64)
                .collect();
            let in_context = runs.iter().map(|r| r.in_context).sum::<f64>() / runs.len() as f64;
            let bytes = kind.state_bytes(d, len);
            println!(
                "   T = {len:>3}, {pairs:>2} pairs, d = {d:>3}: {:<30} {mean:.3} ± {sd:.3}   keeps {bytes} bytes; by pair, first to last: {}; names a value of the sequence {in_context:.2}",
                kind.name(),
                by_pair
                    .iter()
                    .map(|a| format!("{a:.2}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            if (d, len) == (64, 64) {
                ch.record(&format!("mqar: {} accuracy (d=64, T=64)", kind.key()), mean);
                for (i, a) in by_pair.iter().enumerate() {
                    ch.record(
                        &format!(
                            "mqar: {} accuracy on pair {} of {pairs} (d=64, T=64)",
                            kind.key(),
                            i + 1
                        ),
                        *a,
                    );
                }
            }
            let cell = format!("d={d}, T={len}, pairs={pairs}");
            ch.record(
                &format!("mqar: {} names a value of the sequence ({cell})", kind.key()),
                in_context,
            );
            ch.record(&format!("mqar: {} accuracy ({cell})", kind.key()), mean);
            ch.record(&format!("mqar: {} spread ({cell})", kind.key()), sd);
            memory.push((kind, d, len, bytes, mean, sd));
        }
    }
    let series: Vec<Series> = MqarModel::ALL
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let mine: Vec<_> = memory.iter().filter(|m| m.0 == *kind).collect();
            Series::line(kind.name(), mine.iter().map(|m| (m.3 as f64, m.4)).collect())
                .with_mark(Mark::Points)
                .with_spread(mine.iter().map(|m| m.5).collect())
                .with_color(i)
        })
        .chain([Series::reference("chance (1 in 32)", 1.0 / 32.0)])
        .collect();
    let fig = ch
        .frame(
            "Memory has a size: MQAR accuracy against what a model keeps",
            "bytes kept about the past while generating (state, or key-value cache), log scale",
            "accuracy on the questions",
        )
        .log2_x()
        .legend(Legend::Outside);
    ch.lines("mqar_memory.svg", &fig, &series)?;
    Ok(())
}

/// The three models of the MQAR comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MqarModel {
    Attention,
    Rnn,
    Gru,
}

impl MqarModel {
    const ALL: [MqarModel; 3] = [MqarModel::Attention, MqarModel::Rnn, MqarModel::Gru];

    fn name(self) -> &'static str {
        match self {
            MqarModel::Attention => "attention (2 blocks, 4 heads)",
            MqarModel::Rnn => "RNN (§4.1, tanh)",
            MqarModel::Gru => "GRU",
        }
    }

    /// The name in the summary's keys.
    fn key(self) -> &'static str {
        match self {
            MqarModel::Attention => "attention",
            MqarModel::Rnn => "RNN",
            MqarModel::Gru => "GRU",
        }
    }

    /// Bytes kept about the past after `len` tokens, in f32: the recurrent
    /// state (d numbers), or the key-value cache (a key and a value of d numbers
    /// per token, per block).
    fn state_bytes(self, d: usize, len: usize) -> usize {
        match self {
            MqarModel::Attention => 4 * 2 * 2 * len * d,
            MqarModel::Rnn | MqarModel::Gru => 4 * d,
        }
    }
}

/// Trains one model of width `d` on the training set; returns how it answers
/// the test set.
fn mqar_run(
    kind: MqarModel,
    task: &Mqar,
    splits: &MqarSplits,
    d: usize,
    steps: usize,
    seed: u64,
) -> Result<MqarAnswers, Box<dyn Error>> {
    let lr = 3e-3;
    let mut cfg = TrainConfig::new(steps, 32, task.len, lr);
    cfg.seed = seed;
    cfg.eval_every = (steps / 5).max(1);
    cfg.label = format!("mqar {}", kind.key());
    let sets = (&splits.train[..], &splits.val[..]);
    let init = &mut StdRng::seed_from_u64(seed);
    let opt = &mut AdamW::nanogpt(lr);
    Ok(match kind {
        MqarModel::Attention => {
            let config = TransformerConfig {
                vocab_size: task.vocab(),
                embed_dim: d,
                num_heads: 4,
                ff_dim: 2 * d,
                num_layers: 2,
                context: task.len,
                causal: true,
            };
            let mut m = TransformerLM::<f32>::new(config, init);
            train_mqar(&mut m, opt, task, sets, &cfg)?;
            mqar_answers(&m, task, &splits.test)
        }
        MqarModel::Rnn => {
            let mut m = Rnn::<f32>::new(task.vocab(), d, Activation::Tanh, init);
            train_mqar(&mut m, opt, task, sets, &cfg)?;
            mqar_answers(&m, task, &splits.test)
        }
        MqarModel::Gru => {
            let mut m = Gru::<f32>::new(task.vocab(), d, init);
            train_mqar(&mut m, opt, task, sets, &cfg)?;
            mqar_answers(&m, task, &splits.test)
        }
    })
}

/// The curriculum of the memory span: gaps 1–2 first, doubled at 90 % recall.
fn curriculum(size: &Sizes) -> Curriculum {
    Curriculum {
        start: 2,
        end: size.span_k_max,
        pass: 0.9,
        probe: 256,
    }
}

/// Training settings of a recall run: windows up to k_max + 2, a curriculum
/// check every 50 steps.
fn recall_config(size: &Sizes, lr: f64, seed: u64, label: &str) -> TrainConfig {
    let mut cfg = TrainConfig::new(size.span_steps, 32, size.span_k_max + 2, lr);
    cfg.seed = seed;
    cfg.eval_every = 50.min(size.span_steps);
    cfg.label = label.into();
    cfg
}

/// Recall at each k, over seeds.
#[derive(Clone)]
struct SpanCurve {
    ks: Vec<usize>,
    /// `[seed][k]`.
    runs: Vec<Vec<f64>>,
}

impl SpanCurve {
    /// Mean and standard deviation over seeds at the `i`-th gap.
    fn stats(&self, i: usize) -> (f64, f64) {
        mean_sd(&self.runs.iter().map(|r| r[i]).collect::<Vec<f64>>())
    }

    fn mean(&self, i: usize) -> f64 {
        self.stats(i).0
    }

    fn spread(&self, i: usize) -> f64 {
        self.stats(i).1
    }

    /// The mean at gap `k`, if it was tested.
    fn at(&self, k: usize) -> Option<f64> {
        self.ks.iter().position(|&x| x == k).map(|i| self.mean(i))
    }

    fn series(&self, label: &str, color: usize) -> Series {
        let points = self
            .ks
            .iter()
            .enumerate()
            .map(|(i, &k)| (k as f64, self.mean(i)))
            .collect();
        let spread = (0..self.ks.len()).map(|i| self.spread(i)).collect();
        Series::line(label, points)
            .with_mark(Mark::LinePoints)
            .with_spread(spread)
            .with_color(color)
    }
}

/// Trains a model per seed with `train` and tests its recall at every k in
/// `ks` on fresh sequences; prints the row.
fn over_seeds(
    ch: &mut Chapter,
    size: &Sizes,
    label: &str,
    ks: &[usize],
    train: &mut dyn FnMut(u64) -> Result<Box<dyn RecallModel>, Box<dyn Error>>,
) -> Result<SpanCurve, Box<dyn Error>> {
    let mut runs = Vec::new();
    for s in 0..size.span_seeds {
        let seed = ch.seed() + 1000 * s as u64;
        let model = train(seed)?;
        runs.push(
            ks.iter()
                .map(|&k| model.recall(k, size.span_test, TEST_SEED ^ seed))
                .collect(),
        );
    }
    let curve = SpanCurve {
        ks: ks.to_vec(),
        runs,
    };
    println!(
        "   {label:>26}{}",
        (0..ks.len())
            .map(|i| format!(" {:>5.3}±{:<5.3}", curve.mean(i), curve.spread(i)))
            .collect::<String>()
    );
    Ok(curve)
}

/// A trained recall model, whatever its type.
trait RecallModel {
    fn recall(&self, k: usize, n: usize, seed: u64) -> f64;
}

impl<M: LanguageModel> RecallModel for M {
    fn recall(&self, k: usize, n: usize, seed: u64) -> f64 {
        recall_accuracy(self, &RecallTask::default(), k, n, seed)
    }
}

/// The summary's memory-span keys (means over seeds), the best RNN named.
fn record_span(
    ch: &mut Chapter,
    size: &Sizes,
    rnns: &[(usize, SpanCurve)],
    gpt: &SpanCurve,
    control: &SpanCurve,
) {
    let k_far = size.span_k_max;
    // The best RNN: the highest mean recall over every k tested; of equals, the
    // smallest (`max_by` keeps the last of equals, so the sizes go in reverse).
    let score = |c: &SpanCurve| (0..c.ks.len()).map(|i| c.mean(i)).sum::<f64>();
    let Some((h, best)) = rnns
        .iter()
        .rev()
        .max_by(|a, b| score(&a.1).total_cmp(&score(&b.1)))
    else {
        return;
    };
    ch.record("memory span: best RNN hidden size", *h);
    for k in [1, 16, 64] {
        if let Some(a) = best.at(k) {
            ch.record(&format!("memory span: RNN recall at k={k}"), a);
        }
    }
    if let Some(a) = gpt.at(k_far) {
        ch.record(&format!("memory span: Transformer recall at k={k_far}"), a);
    }
    if let Some(a) = control.at(k_far) {
        ch.record(
            &format!("memory span: RNN without curriculum, recall at k={k_far}"),
            a,
        );
    }
    // The control's spread over seeds, at the far gap and at k = 1.
    for k in [1, k_far] {
        if let Some(i) = control.ks.iter().position(|&x| x == k) {
            ch.record(
                &format!("memory span: RNN without curriculum, recall at k={k} (mean)"),
                control.mean(i),
            );
            ch.record(
                &format!("memory span: RNN without curriculum, spread at k={k}"),
                control.spread(i),
            );
        }
    }
    ch.record("memory span: seeds", size.span_seeds);
    ch.record("memory span: test sequences per k", size.span_test);
    for (h, curve) in rnns {
        let i = curve.ks.len() - 1;
        let k = curve.ks[i];
        ch.record(
            &format!("memory span: RNN H = {h}, recall at k={k}"),
            curve.mean(i),
        );
        ch.record(
            &format!("memory span: RNN H = {h}, spread at k={k}"),
            curve.spread(i),
        );
    }
}

/// § Why the control fails: ‖∂L/∂h₁‖, how much the loss of the answer moves
/// the state just after the symbol, against the gap k, for the untrained RNN
/// (in f64: the norms span many decades). Training on all gaps at once asks
/// the gradient to reach across up to 64 steps from the start.
fn gradient_reach(ch: &mut Chapter, task: &RecallTask, h: usize, size: &Sizes) -> Result<(), Box<dyn Error>> {
    let rnn = Rnn::<f32>::new(
        task.vocab(),
        h,
        Activation::Tanh,
        &mut StdRng::seed_from_u64(ch.seed()),
    )
    .cast::<f64>();
    let ks: Vec<usize> = size
        .ks
        .iter()
        .copied()
        .filter(|&k| k <= size.span_k_max)
        .collect();
    let mut points = Vec::new();
    for &k in &ks {
        let batch = task.batch(64, k, &mut StdRng::seed_from_u64(TEST_SEED ^ k as u64));
        let g = Graph::<f64>::new();
        let out = rnn.forward(&g, &batch.inputs, batch.batch, batch.time, None);
        let h1 = out.hidden[0];
        g.retain_grad(h1);
        let last = out
            .logits
            .slice(1, batch.time - 1, batch.time)
            .reshape([batch.batch, task.vocab()]);
        let grads = last.cross_entropy(&RecallTask::answers(&batch)).backward();
        let norm = grads.wrt(h1).map_or(0.0, |d| {
            d.data()
                .chunks(h)
                .map(|r| r.iter().map(|x| x * x).sum::<f64>().sqrt())
                .sum::<f64>()
                / batch.batch as f64
        });
        points.push((k as f64, norm));
    }
    let at = |k: usize| points.iter().find(|p| p.0 == k as f64).map(|p| p.1);
    if let (Some(one), Some(far)) = (at(1), at(size.span_k_max)) {
        println!(
            "   gradient reach of the untrained RNN (H = {h}): ‖∂L/∂h₁‖ = {one:.2e} at k = 1, {far:.2e} at k = {}",
            size.span_k_max
        );
        ch.record("memory span: untrained RNN ‖∂L/∂h₁‖ at k=1", one);
        ch.record(
            &format!("memory span: untrained RNN ‖∂L/∂h₁‖ at k={}", size.span_k_max),
            far,
        );
    }
    let fig = ch
        .frame(
            &format!("How far back the gradient reaches: untrained RNN, H = {h}"),
            "k (distractors between the symbol and the question), log scale",
            "‖∂L/∂h₁‖, mean over 64 sequences (log scale)",
        )
        .log_y()
        .log2_x();
    let series = [Series::line("‖∂L/∂h₁‖", points).with_mark(Mark::LinePoints)];
    ch.lines("span_gradient.svg", &fig, &series)?;
    Ok(())
}

/// Where each head of the recall-trained Transformer looks from the question mark.
fn recall_attention(
    ch: &mut Chapter,
    gpt: &TransformerLM,
    task: &RecallTask,
    k: usize,
) -> Result<(), Box<dyn Error>> {
    let batch = task.batch(1, k, &mut StdRng::seed_from_u64(ch.seed() ^ 0xa77));
    let n = batch.time;
    let maps = gpt.attention_maps(&batch.inputs, 1, n);
    let (mut rows, mut row_labels) = (Vec::new(), Vec::new());
    for (l, map) in maps.iter().enumerate() {
        for (h, weights) in map.data().chunks(n * n).enumerate() {
            rows.push(
                weights[(n - 1) * n..]
                    .iter()
                    .map(|&w| w as f64)
                    .collect::<Vec<f64>>(),
            );
            row_labels.push(format!("block {l} head {h}"));
        }
    }
    let col_labels: Vec<String> = batch
        .inputs
        .iter()
        .map(|&id| match id {
            _ if id < task.symbols => "S".into(),
            _ if id == task.query() => "?".into(),
            _ => "·".into(),
        })
        .collect();
    let fig = ch.frame(
        &format!("Recall task: where the question mark looks (k = {k})"),
        "position: S = the symbol, · = distractors, ? = the question",
        "attention head",
    );
    ch.heatmap(
        "recall_attention.svg",
        &fig,
        &rows,
        (&row_labels, &col_labels),
        (0.0, 1.0),
    )?;
    let best = rows.iter().map(|r| r[0]).fold(0.0, f64::max);
    println!(
        "   recall attention: the strongest head puts {best:.2} of the question's attention on the symbol {k} + 1 steps back\n"
    );
    ch.record("recall attention: largest weight on the symbol", best);
    Ok(())
}
