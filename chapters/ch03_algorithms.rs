//! Chapter 3: the algorithms, step by step.
//!
//! §3.1: the RNN's four-step generation loop traced on a tiny example, then an
//! RNN trained on the corpus and sampled. §3.2: the GPT's five steps traced the
//! same way, then a Transformer trained and sampled, with a map of where it
//! looks. Then both memories measured side by side: the loss on story answers,
//! and the recall of a symbol seen k steps earlier.
//!
//!     cargo run --release --bin ch03

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, Transcript, main_with};
use shortmem::data::{CharTokenizer, Corpus, Dataset, RecallTask};
use shortmem::models::LanguageModel;
use shortmem::models::{Activation, NGram, Rnn, Smoothing, TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::plot::{self, Figure, Legend, Mark, Series};
use shortmem::sample::{Sampling, argmax, probabilities};
use shortmem::tasks::{per_token_loss, recall_accuracy, train_recall};
use shortmem::train::{self, TrainConfig};
use shortmem::{Graph, Tensor};
use std::error::Error;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch03",
    about = "Chapter 3: the RNN loop of §3.1 and the GPT steps of §3.2, traced, trained, sampled, and their memory"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Hidden size H of the corpus RNN.
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// How new text is chosen: greedy, temp:T or topk:K:T.
    #[arg(long, default_value = "topk:5:0.8")]
    pub sampling: Sampling,
}

fn fmt_vec(v: &[f32]) -> String {
    let items: Vec<String> = v.iter().map(|x| format!("{x:+.3}")).collect();
    format!("[{}]", items.join(", "))
}

/// The tiny alphabet of the traces.
fn tiny_tokenizer() -> CharTokenizer {
    CharTokenizer::from_text("abc.")
}

/// §3.1's four steps on a 4-character alphabet and H = 3, printing every value.
fn trace_rnn(seed: u64, tr: &mut Transcript) {
    let tok = tiny_tokenizer();
    let rnn = Rnn::<f32>::new(
        tok.vocab_size(),
        3,
        Activation::Tanh,
        &mut StdRng::seed_from_u64(seed),
    );
    tr.say(format!(
        "§3.1 traced: vocabulary {:?} (V = 4), hidden size H = 3, untrained weights",
        tok.alphabet()
    ));
    tr.say("U [3×4], W [3×3], b [3], V [4×3], c [4]; h_0 = 0");
    let mut h = Tensor::zeros([1, 3]);
    let mut x = tok.id('a').expect("in the alphabet");
    let ch = |id: usize| tok.char(id).unwrap_or('?');
    for t in 1..=3 {
        let g = Graph::inference();
        let h_prev = g.constant(h.clone());
        let u_x = g.param(&rnn.u).columns(&[x]);
        let w_h = h_prev.matmul_t(g.param(&rnn.w));
        let h_t = rnn.step(&g, &[x], h_prev);
        let y_t = rnn.output(&g, h_t).softmax().value();
        let next = argmax(y_t.data());
        tr.anchor(&format!("rnn_t{t}"));
        tr.say(format!("t = {t}"));
        tr.say(format!(
            "  1. x_{t} = {:?} (id {x}, one-hot of length 4); h_{} {} = {}",
            ch(x),
            t - 1,
            h.shape(),
            fmt_vec(h.data())
        ));
        tr.say(format!(
            "  2. U x_{t} = {}   W h_{} = {}",
            fmt_vec(u_x.value().data()),
            t - 1,
            fmt_vec(w_h.value().data())
        ));
        tr.say(format!(
            "     h_{t} = tanh(U x_{t} + W h_{} + b) {} = {}",
            t - 1,
            h_t.shape(),
            fmt_vec(h_t.value().data())
        ));
        tr.say(format!(
            "  3. y_{t} = softmax(V h_{t} + c) {} = {}",
            y_t.shape(),
            fmt_vec(y_t.data())
        ));
        tr.say(format!("  4. x_{} = argmax y_{t} = {:?}", t + 1, ch(next)));
        tr.end(&format!("rnn_t{t}"));
        tr.say(String::new());
        h = h_t.value();
        x = next;
    }
}

/// §3.2's five steps on the same alphabet: D = 4, 2 heads, one block.
fn trace_gpt(seed: u64, tr: &mut Transcript) {
    let tok = tiny_tokenizer();
    let config = TransformerConfig {
        vocab_size: 4,
        embed_dim: 4,
        num_heads: 2,
        ff_dim: 8,
        num_layers: 1,
        context: 8,
        causal: true,
    };
    let lm = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    let ch = |id: usize| tok.char(id).unwrap_or('?');
    tr.say("§3.2 traced: the same alphabet, D = 4, 2 heads of width 2, one block, untrained weights");
    let mut ids = vec![
        tok.id('a').expect("in the alphabet"),
        tok.id('b').expect("in the alphabet"),
    ];
    for round in 1..=2 {
        let n = ids.len();
        let g = Graph::inference();
        let text: String = ids.iter().map(|&i| ch(i)).collect();
        tr.anchor(&format!("gpt_round{round}"));
        tr.say(format!("round {round}: X = {text:?} (n = {n})"));
        // 1. X → E: one embedding row per token
        let e = lm.embed.forward(&g, &ids, [1, n]);
        for (t, row) in e.value().data().chunks(4).enumerate() {
            tr.say(format!("  1. e_{} = {}", t + 1, fmt_vec(row)));
        }
        // 2. Ẽ = E + P
        let e_tilde = e + g.constant(lm.positions(n));
        for (t, row) in e_tilde.value().data().chunks(4).enumerate() {
            tr.say(format!(
                "  2. ẽ_{} = e_{} + p_{} = {}",
                t + 1,
                t + 1,
                t,
                fmt_vec(row)
            ));
        }
        // 3. the block: attention (C), then the feed-forward layer (C̃)
        let block = &lm.blocks[0];
        let (attended, weights) = block.attention.forward_with_weights(&g, e_tilde, true);
        for head in 0..2 {
            let a = &weights.data()[head * n * n..(head + 1) * n * n];
            let rows: Vec<String> = a.chunks(n).map(fmt_vec).collect();
            tr.say(format!(
                "  3. attention weights of head {head} (row t: what position t takes from each): {}",
                rows.join(" ")
            ));
        }
        let c = block.norm1.forward(&g, attended + e_tilde);
        let c_tilde = block.norm2.forward(&g, block.ff.forward(&g, c) + c);
        tr.say(format!(
            "     c_{n} = norm1(attention + ẽ) = {}",
            fmt_vec(&c.value().data()[(n - 1) * 4..])
        ));
        tr.say(format!(
            "     c̃_{n} = norm2(ff(c) + c)     = {}",
            fmt_vec(&c_tilde.value().data()[(n - 1) * 4..])
        ));
        // 4. y_n = softmax(c̃_n W_o + b_o)
        let logits = lm.out.forward(&g, c_tilde).value();
        let y: Vec<f32> = probabilities(&logits.data()[(n - 1) * 4..])
            .into_iter()
            .map(|p| p as f32)
            .collect();
        tr.say(format!("  4. y_{n} = softmax(c̃_{n} W_o + b_o) = {}", fmt_vec(&y)));
        // 5. choose x_{n+1} and go again with the longer sequence
        let next = argmax(&y);
        tr.say(format!("  5. x_{} = argmax y_{n} = {:?}", n + 1, ch(next)));
        tr.end(&format!("gpt_round{round}"));
        tr.say(String::new());
        ids.push(next);
    }
}

/// Trains a model on the corpus with the common trainer and prints a sample.
fn train_and_sample<M: LanguageModel>(
    ch: &mut Chapter,
    model: &mut M,
    data: &Dataset,
    cfg: &TrainConfig,
    key: &str,
    sample: impl Fn(&M, &[usize]) -> Vec<usize>,
) -> Result<train::History, Box<dyn Error>> {
    let history = train::train(model, &mut AdamW::nanogpt(cfg.schedule.lr(0)), data, cfg)?;
    println!(
        "   {key}: validation loss {:.3} nats/char after {} steps, {:.0} tokens/s",
        history.final_val(),
        cfg.steps,
        history.tokens_per_second()
    );
    let prompt_text = "Mia put the key in the ";
    let prompt = data
        .tokenizer
        .encode(prompt_text)
        .unwrap_or_else(|_| data.val[..20].to_vec());
    let text = format!(
        "{}{}",
        data.tokenizer.decode(&prompt)?,
        data.tokenizer.decode(&sample(model, &prompt))?
    );
    println!("   sample:");
    for line in text.lines().take(6) {
        println!("     | {line}");
    }
    println!();
    ch.summary
        .record(&format!("{key} val nats/char"), history.final_val());
    ch.summary
        .record(&format!("{key} tokens/s"), history.tokens_per_second());
    ch.summary.record(&format!("{key} sample"), text);
    Ok(history)
}

/// A story the trained Transformer reads, with its attention drawn as a heatmap.
fn attention_map(ch: &mut Chapter, lm: &TransformerLM, tok: &CharTokenizer) -> Result<(), Box<dyn Error>> {
    let story = "Zoe hid the ring in the blue bag. Where is the ring? In the ";
    let Ok(ids) = tok.encode(story) else { return Ok(()) };
    if ids.len() > lm.config.context {
        return Ok(());
    }
    let n = ids.len();
    let maps = lm.attention_maps(&ids, 1, n);
    let last = maps.last().expect("at least one block");
    let heads = lm.config.num_heads;
    // The head whose last row (the position that must say "blue bag") reaches
    // furthest back: that is where the memory is.
    let reach = |h: usize| -> f64 {
        let row = &last.data()[(h * n + n - 1) * n..(h * n + n) * n];
        row.iter()
            .enumerate()
            .map(|(j, &w)| w as f64 * (n - 1 - j) as f64)
            .sum()
    };
    let head = (0..heads)
        .max_by(|&a, &b| reach(a).total_cmp(&reach(b)))
        .unwrap_or(0);
    let values: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            last.data()[(head * n + i) * n..(head * n + i + 1) * n]
                .iter()
                .map(|&w| w as f64)
                .collect()
        })
        .collect();
    let labels: Vec<String> = story.chars().map(CharTokenizer::display_char).collect();
    let fig = Figure::new(
        &format!("Where the Transformer looks: last block, head {head}"),
        "key position (the text it reads)",
        "query position (the text it writes)",
        &ch.caption(),
    );
    plot::heatmap(
        ch.figure("attention_map.svg"),
        &fig,
        &values,
        &labels,
        &labels,
        (0.0, 1.0),
    )?;
    let row = &values[n - 1];
    let top: Vec<(usize, f64)> = {
        let mut r: Vec<(usize, f64)> = row.iter().copied().enumerate().collect();
        r.sort_by(|a, b| b.1.total_cmp(&a.1));
        r.into_iter().take(3).collect()
    };
    let described: Vec<String> = top
        .iter()
        .map(|(j, w)| format!("{:?} at {j} ({w:.2})", story.chars().nth(*j).unwrap_or('?')))
        .collect();
    println!(
        "   attention of the last position in head {head}: {}",
        described.join(", ")
    );
    let next = argmax(&lm.next_logits(&ids));
    println!(
        "   the model continues {story:?} with {:?}\n",
        tok.char(next).unwrap_or('?')
    );
    ch.summary.record(
        "attention map: next character predicted",
        tok.char(next).map_or(String::new(), String::from),
    );
    Ok(())
}

pub fn run(args: Args) -> ChapterResult {
    let quick = args.common.quick;
    let extra = if args.hidden != 256 {
        vec![format!("--hidden {}", args.hidden)]
    } else {
        vec![]
    };
    let mut ch = Chapter::start("ch03", "The algorithms, step by step", args.common, &extra)?;
    let seed = ch.args.seed;

    let mut trace = Transcript::default();
    trace_rnn(seed, &mut trace);
    trace_gpt(seed, &mut trace);
    std::fs::write(ch.figure("trace.txt"), &trace.text)?;

    // Both models trained on the same corpus, same batches, same budget.
    let (name, data, corpus) = ch.dataset()?;
    let steps = ch.args.steps.unwrap_or(if quick { 40 } else { 1000 });
    let hidden = if quick { 64 } else { args.hidden };
    let mut cfg = TrainConfig::new(steps, 32, 64, 3e-3);
    cfg.seed = seed;
    cfg.label = "rnn".into();
    let mut rnn = Rnn::<f32>::new(
        data.vocab_size(),
        hidden,
        Activation::Tanh,
        &mut StdRng::seed_from_u64(seed),
    );
    let sampling = args.sampling;
    let rnn_hist = train_and_sample(
        &mut ch,
        &mut rnn,
        &data,
        &cfg,
        &format!("RNN (H = {hidden})"),
        |m, p| m.generate(p, 300, sampling, &mut StdRng::seed_from_u64(seed)),
    )?;
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: if quick { 32 } else { 64 },
        num_heads: 4,
        ff_dim: if quick { 64 } else { 256 },
        num_layers: 2,
        context: 64,
        causal: true,
    };
    let mut gpt = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    cfg.label = "transformer".into();
    let gpt_key = format!("Transformer (2 blocks, D = {})", config.embed_dim);
    let gpt_hist = train_and_sample(&mut ch, &mut gpt, &data, &cfg, &gpt_key, |m, p| {
        m.generate(p, 300, sampling, &mut StdRng::seed_from_u64(seed), true)
    })?;
    let fig = Figure::new(
        &format!("§3.1 RNN and §3.2 Transformer on the {name}"),
        "step",
        "cross-entropy (nats per character)",
        &ch.caption(),
    );
    let val = |h: &train::History| h.val.iter().map(|&(s, l)| (s as f64, l)).collect::<Vec<_>>();
    plot::lines(
        ch.figure("training.svg"),
        &fig,
        &[
            Series::line(
                &format!("RNN, H = {hidden}: train"),
                plot::smooth(&rnn_hist.train, 25),
            )
            .with_color(0),
            Series::line("RNN: validation", val(&rnn_hist))
                .with_mark(Mark::Points)
                .with_color(0),
            Series::line("Transformer: train", plot::smooth(&gpt_hist.train, 25)).with_color(1),
            Series::line("Transformer: validation", val(&gpt_hist))
                .with_mark(Mark::Points)
                .with_color(1),
        ],
    )?;
    attention_map(&mut ch, &gpt, &data.tokenizer)?;
    if let Some(corpus) = &corpus {
        answer_losses(&mut ch, &data, corpus, &rnn, &gpt)?;
    }
    memory_span(&mut ch, quick, seed)?;
    ch.finish()
}

/// Loss on the first character of story answers: 8-gram, RNN, Transformer.
fn answer_losses(
    ch: &mut Chapter,
    data: &Dataset,
    corpus: &Corpus,
    rnn: &Rnn,
    gpt: &TransformerLM,
) -> Result<(), Box<dyn Error>> {
    let split = data.train.len();
    let starts = &corpus.answer_start_mask()[split..split + data.val.len()];
    let answers = &corpus.answer_mask()[split..split + data.val.len()];
    // per_token_loss[i] scores val[i + 1]: shift the masks by one.
    let mean_on = |loss: &[f64], mask: &[bool], want: bool| -> f64 {
        let picked: Vec<f64> = loss
            .iter()
            .enumerate()
            .filter(|(i, _)| mask[i + 1] == want && *i >= 8)
            .map(|(_, &l)| l)
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
    };
    let ngram = NGram::fit(&data.train, data.vocab_size(), 8);
    let ngram_loss: Vec<f64> = (0..data.val.len() - 1)
        .map(|i| {
            if i < 8 {
                f64::NAN
            } else {
                -ngram
                    .prob(&data.val[i - 7..=i], data.val[i + 1], 8, Smoothing::WittenBell)
                    .ln()
            }
        })
        .collect();
    let rnn_loss = per_token_loss(rnn, &data.val, 64);
    let gpt_loss = per_token_loss(gpt, &data.val, 64);
    println!(
        "   loss (nats/char) on held-out text: {:<26} {:>14} {:>14}",
        "", "answer starts", "other chars"
    );
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for (label, loss) in [
        ("8-gram (Witten-Bell)", &ngram_loss),
        ("RNN (§3.1)", &rnn_loss),
        ("Transformer (§3.2)", &gpt_loss),
    ] {
        let (on, off) = (mean_on(loss, starts, true), mean_on(loss, answers, false));
        println!("   {label:>61} {on:>14.3} {off:>14.3}");
        ch.summary.record(&format!("{label}: answer-start nats/char"), on);
        ch.summary.record(&format!("{label}: other nats/char"), off);
        labels.push(label.to_string());
        values.push(on);
    }
    println!();
    let fig = Figure::new(
        "Memory in practice: loss on the first character of story answers",
        "model",
        "cross-entropy on answer starts (nats)",
        &ch.caption(),
    );
    plot::bars(ch.figure("answer_loss.svg"), &fig, &labels, &values)?;
    let best = (0..3)
        .min_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0);
    ch.summary.finding(format!(
        "On the first character of a story's answer, the 8-gram pays {:.2} nats, the RNN {:.2}, the Transformer {:.2}; \
         the {} answers best.",
        values[0], values[1], values[2], labels[best]
    ));
    Ok(())
}

/// Where each head of the recall-trained Transformer looks from the question mark.
fn recall_attention(
    ch: &mut Chapter,
    gpt: &TransformerLM,
    task: &RecallTask,
    k: usize,
    seed: u64,
) -> Result<(), Box<dyn Error>> {
    let batch = task.batch(1, k, &mut StdRng::seed_from_u64(seed ^ 0xa77));
    let n = batch.time;
    let maps = gpt.attention_maps(&batch.inputs, 1, n);
    let heads = gpt.config.num_heads;
    let mut rows = Vec::new();
    let mut row_labels = Vec::new();
    for (l, map) in maps.iter().enumerate() {
        for h in 0..heads {
            let last = &map.data()[(h * n + n - 1) * n..(h * n + n) * n];
            rows.push(last.iter().map(|&w| w as f64).collect::<Vec<f64>>());
            row_labels.push(format!("block {l} head {h}"));
        }
    }
    let col_labels: Vec<String> = batch
        .inputs
        .iter()
        .map(|&id| {
            if id < task.symbols {
                "S".into()
            } else if id == task.query() {
                "?".into()
            } else {
                "·".into()
            }
        })
        .collect();
    let fig = Figure::new(
        &format!("Recall task: where the question mark looks (k = {k})"),
        "position: S = the symbol, · = distractors, ? = the question",
        "attention head",
        &ch.caption(),
    );
    plot::heatmap(
        ch.figure("recall_attention.svg"),
        &fig,
        &rows,
        &row_labels,
        &col_labels,
        (0.0, 1.0),
    )?;
    let best = rows.iter().map(|r| r[0]).fold(0.0, f64::max);
    println!(
        "   recall attention: the strongest head puts {best:.2} of the question's attention on the symbol {k} + 1 steps back\n"
    );
    ch.summary
        .record("recall attention: largest weight on the symbol", best);
    Ok(())
}

/// Recall of a symbol after k distractors, for RNNs of a few sizes and a Transformer.
fn memory_span(ch: &mut Chapter, quick: bool, seed: u64) -> Result<(), Box<dyn Error>> {
    let task = RecallTask::default();
    let ks: Vec<usize> = if quick {
        vec![1, 2, 4, 8]
    } else {
        vec![1, 2, 4, 8, 12, 16, 24, 32, 48, 64]
    };
    let k_max = *ks.last().expect("non-empty");
    let steps = if quick { 60 } else { 1000 };
    let mut series = Vec::new();
    println!(
        "   memory span: recall accuracy after k distractors (chance = {:.3})",
        1.0 / task.symbols as f64
    );
    print!("   {:>18}", "model \\ k");
    ks.iter().for_each(|k| print!(" {k:>6}"));
    println!();
    let mut row = |ch: &mut Chapter, label: &str, acc: &[f64]| {
        print!("   {label:>18}");
        acc.iter().for_each(|a| print!(" {a:>6.3}"));
        println!();
        let reach = ks
            .iter()
            .zip(acc)
            .take_while(|(_, a)| **a >= 0.9)
            .map(|(k, _)| *k)
            .last()
            .unwrap_or(0);
        ch.summary
            .record(&format!("{label}: longest k with ≥90% recall"), reach);
        ch.summary
            .record(&format!("{label}: recall at k={k_max}"), acc[acc.len() - 1]);
        let points = ks.iter().zip(acc).map(|(&k, &a)| (k as f64, a)).collect();
        series.push(Series::line(label, points).with_mark(Mark::LinePoints));
    };
    let sizes: &[usize] = if quick { &[32] } else { &[64, 256] };
    for (i, &h) in sizes.iter().enumerate() {
        let mut model = Rnn::<f32>::new(
            task.vocab(),
            h,
            Activation::Tanh,
            &mut StdRng::seed_from_u64(seed + i as u64),
        );
        let mut cfg = TrainConfig::new(steps, 32, k_max + 2, 3e-3);
        cfg.seed = seed;
        cfg.eval_every = steps;
        cfg.label = format!("recall RNN {h}");
        train_recall(&mut model, &mut AdamW::nanogpt(3e-3), &task, 1..=k_max, &cfg)?;
        let acc: Vec<f64> = ks
            .iter()
            .map(|&k| recall_accuracy(&model, &task, k, 1000, seed ^ 0x5eed))
            .collect();
        row(ch, &format!("RNN, H = {h}"), &acc);
    }
    let config = TransformerConfig {
        vocab_size: task.vocab(),
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 128,
        num_layers: 2,
        context: k_max + 2,
        causal: true,
    };
    let mut gpt = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    let mut cfg = TrainConfig::new(steps, 32, k_max + 2, 1e-3);
    cfg.seed = seed;
    cfg.eval_every = steps;
    cfg.label = "recall transformer".into();
    train_recall(&mut gpt, &mut AdamW::nanogpt(1e-3), &task, 1..=k_max, &cfg)?;
    let acc: Vec<f64> = ks
        .iter()
        .map(|&k| recall_accuracy(&gpt, &task, k, 1000, seed ^ 0x5eed))
        .collect();
    row(ch, "Transformer, D = 64", &acc);
    recall_attention(ch, &gpt, &task, k_max.min(24), seed)?;
    series.push(Series::reference("chance (1 in 8)", 1.0 / task.symbols as f64));
    let fig = Figure::new(
        "Memory span: recall of a symbol seen k steps earlier",
        "k (distractors between the symbol and the question)",
        "recall accuracy",
        &ch.caption(),
    )
    .legend(Legend::Outside);
    plot::lines(ch.figure("memory_span.svg"), &fig, &series)?;
    Ok(())
}

#[allow(dead_code)]
fn main() {
    main_with(run)
}
