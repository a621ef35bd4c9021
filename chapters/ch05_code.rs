//! Chapter 5: the tutorial's PyTorch `TransformerLM`, rebuilt and put to work.
//!
//! Trains the §5 model (with the positional encoding and causal mask that §5
//! leaves out) with nanoGPT's small CPU recipe, samples from it, then shows
//! what goes wrong without the mask or with the wrong batch layout, and how a
//! key–value cache keeps generation fast.
//!
//!     cargo run --release --bin ch05
//!     cargo run --release --bin ch05 -- --corpus ../shared/data/tinyshakespeare.txt --train-only

use clap::Parser;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, main_with};
use shortmem::checkpoint::Checkpointed;
use shortmem::data::Dataset;
use shortmem::models::{KvCache, TransformerConfig, TransformerLM};
use shortmem::optim::{AdamW, DecayFilter, Schedule};
use shortmem::plot::{self, Figure, Legend, Mark, Series};
use shortmem::sample::{Sampling, nll};
use shortmem::train::{self, History, TrainConfig};
use shortmem::{Graph, Module, Tensor};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch05",
    about = "Chapter 5: the §5 TransformerLM trained, sampled, and its missing pieces (mask, batch layout, KV cache)"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Transformer blocks.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Attention heads per block.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Model width D.
    #[arg(long, default_value_t = 128)]
    pub embed: usize,
    /// Hidden width of the feed-forward layers.
    #[arg(long, default_value_t = 512)]
    pub ff: usize,
    /// Tokens per training window (and the longest context).
    #[arg(long, default_value_t = 64)]
    pub context: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 12)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Final learning rate of the cosine decay.
    #[arg(long, default_value_t = 1e-4)]
    pub min_lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// AdamW's β₂.
    #[arg(long, default_value_t = 0.99)]
    pub beta2: f64,
    /// AdamW weight decay (on matrices only).
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this.
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    /// Train and report only: skip the mask, batch-layout and cache experiments.
    #[arg(long)]
    pub train_only: bool,
    /// How samples are drawn: greedy, temp:T or topk:K:T.
    #[arg(long, default_value = "topk:5:0.8")]
    pub sampling: Sampling,
    /// Text to start the samples with (default: the start of the validation text).
    #[arg(long)]
    pub prompt: Option<String>,
    /// Save the trained model (weights, sizes, alphabet) to this safetensors file.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Skip training: load a model saved with --save and write --tokens characters after --prompt.
    #[arg(long, value_name = "FILE")]
    pub load: Option<PathBuf>,
    /// How many characters to generate with --load.
    #[arg(long, default_value_t = 500)]
    pub tokens: usize,
}

impl Args {
    /// The flags that differ from their defaults, for the reproducing command.
    fn changed(&self) -> Vec<String> {
        let d = Args::parse_from(["ch05"]);
        let mut v = Vec::new();
        let mut flag = |name: &str, a: String, b: String| {
            if a != b {
                v.push(format!("--{name} {a}"));
            }
        };
        flag("layers", self.layers.to_string(), d.layers.to_string());
        flag("heads", self.heads.to_string(), d.heads.to_string());
        flag("embed", self.embed.to_string(), d.embed.to_string());
        flag("ff", self.ff.to_string(), d.ff.to_string());
        flag("context", self.context.to_string(), d.context.to_string());
        flag("batch", self.batch.to_string(), d.batch.to_string());
        flag("lr", self.lr.to_string(), d.lr.to_string());
        flag("min-lr", self.min_lr.to_string(), d.min_lr.to_string());
        flag("warmup", self.warmup.to_string(), d.warmup.to_string());
        flag("beta2", self.beta2.to_string(), d.beta2.to_string());
        flag(
            "weight-decay",
            self.weight_decay.to_string(),
            d.weight_decay.to_string(),
        );
        flag("clip", self.clip.to_string(), d.clip.to_string());
        if self.train_only {
            v.push("--train-only".into());
        }
        if let Some(p) = &self.save {
            v.push(format!("--save {}", p.display()));
        }
        v
    }
}

fn train_config(args: &Args, steps: usize, seed: u64, label: &str) -> TrainConfig {
    let mut cfg = TrainConfig::new(steps, args.batch, args.context, args.lr);
    cfg.schedule = Schedule::WarmupCosine {
        max_lr: args.lr,
        min_lr: args.min_lr,
        warmup: args.warmup.min(steps / 2),
        total: steps,
    };
    cfg.clip = Some(args.clip);
    cfg.seed = seed;
    cfg.label = label.into();
    cfg
}

/// AdamW with the recipe's β₂ and weight decay (on matrices only).
fn optimizer(args: &Args) -> AdamW {
    AdamW::nanogpt(args.lr)
        .betas(0.9, args.beta2)
        .weight_decay(args.weight_decay, DecayFilter::MatricesOnly)
}

/// Loss of predicting each token of `tokens[1..]` from the tokens before it
/// only: the window ends at the prediction, so nothing later can leak in.
fn honest_loss(model: &TransformerLM, tokens: &[usize]) -> f64 {
    let mut total = 0.0;
    for i in 1..tokens.len() {
        total += nll(&model.next_logits(&tokens[..i]), tokens[i]);
    }
    total / (tokens.len() - 1) as f64
}

fn print_sample(label: &str, text: &str) {
    println!("   {label}:");
    for line in text.lines().take(8) {
        println!("     | {line}");
    }
}

/// `--load FILE`: sample from a saved model, no training.
fn sample_saved(args: &Args, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let (model, tokenizer) = TransformerLM::load(path)?;
    let prompt_text = args.prompt.clone().unwrap_or_else(|| "\n".to_string());
    let prompt = tokenizer
        .encode(&prompt_text)
        .map_err(|e| format!("the prompt has {e}"))?;
    let out = model.generate(
        &prompt,
        args.tokens,
        args.sampling,
        &mut StdRng::seed_from_u64(args.common.seed),
        true,
    );
    print!("{prompt_text}{}", tokenizer.decode(&out)?);
    println!();
    Ok(())
}

pub fn run(args: Args) -> ChapterResult {
    if let Some(path) = &args.load {
        sample_saved(&args, path)?;
        return Ok(shortmem::chapter::Summary::new("ch05", "sampling a saved model"));
    }
    let quick = args.common.quick;
    let mut ch = Chapter::start(
        "ch05",
        "The code in practice",
        args.common.clone(),
        &args.changed(),
    )?;
    let seed = ch.args.seed;
    let (name, data, _) = ch.dataset()?;
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: if quick { 32 } else { args.embed },
        num_heads: if quick { 2 } else { args.heads },
        ff_dim: if quick { 64 } else { args.ff },
        num_layers: if quick { 1 } else { args.layers },
        context: args.context,
        causal: true,
    };
    let steps = ch.args.steps.unwrap_or(if quick { 40 } else { 2000 });

    // 1. Train the §5 model.
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
    println!(
        "   §5 TransformerLM on the {name}: {} layers, {} heads, D = {}, ff = {}, context {}, {} parameters",
        config.num_layers,
        config.num_heads,
        config.embed_dim,
        config.ff_dim,
        config.context,
        model.num_params()
    );
    let cfg = train_config(&args, steps, seed, "transformer");
    let history = train::train(&mut model, &mut optimizer(&args), &data, &cfg)?;
    println!(
        "   validation loss {:.4} nats/char after {steps} steps; {:.0} tokens/s; {:.1} s of training",
        history.final_val(),
        history.tokens_per_second(),
        history.seconds
    );
    let fig = Figure::new(
        &format!("§5 TransformerLM on the {name}"),
        "step",
        "cross-entropy (nats per character)",
        &ch.caption(),
    );
    plot::loss_curves(ch.figure("transformer_loss.svg"), &fig, &history)?;
    ch.summary.record("corpus", name.clone());
    ch.summary.record("parameters", model.num_params());
    ch.summary.record("steps", steps);
    ch.summary.record("final val loss", history.final_val());
    ch.summary
        .record("final train loss (mean of last 50)", history.final_train(50));
    ch.summary.record("tokens/s", history.tokens_per_second());
    ch.summary.record("training seconds", history.seconds);
    ch.summary.record("machine", shortmem::chapter::machine());

    // Samples: greedy, and the chosen sampling.
    let prompt = match &args.prompt {
        Some(p) => data.tokenizer.encode(p)?,
        None => data.val[..data.val.len().min(40)].to_vec(),
    };
    let prompt_text = data.tokenizer.decode(&prompt)?;
    let mut rng = StdRng::seed_from_u64(seed);
    println!();
    for how in [Sampling::Greedy, args.sampling] {
        let out = model.generate(&prompt, if quick { 60 } else { 300 }, how, &mut rng, true);
        let text = format!("{prompt_text}{}", data.tokenizer.decode(&out)?);
        print_sample(&format!("sample ({how})"), &text);
        ch.summary.record(&format!("sample ({how})"), text);
    }
    // Save, load back, and check the copy computes the same logits.
    let path = match &args.save {
        Some(p) => p.clone(),
        None => ch.out.join("model.safetensors"),
    };
    model.save(&path, &data.tokenizer)?;
    let (loaded, tokenizer) = TransformerLM::load(&path)?;
    let probe = &data.val[..data.val.len().min(config.context)];
    let (a, b) = (model.next_logits(probe), loaded.next_logits(probe));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    println!(
        "\n   checkpoint: saved to {} ({} KiB), loaded back: same alphabet {}, max |Δlogit| {diff}",
        path.display(),
        std::fs::metadata(&path)?.len() / 1024,
        tokenizer == data.tokenizer
    );
    ch.summary
        .record("checkpoint round trip max |Δlogit|", diff as f64);
    if args.save.is_none() {
        std::fs::remove_file(&path)?;
    }
    if args.train_only {
        return ch.finish();
    }

    // 2. Without the causal mask, as §5 is printed.
    mask_experiment(&mut ch, &args, &data, quick)?;
    // 3. batch_first: what nn.MultiheadAttention does with [B, T, D] by default.
    batch_layout(&mut ch, &model);
    // 4. Generation speed with and without the key–value cache.
    cache_timing(&mut ch, &config, quick)?;
    ch.finish()
}

/// Trains the same small model with and without the causal mask.
fn mask_experiment(
    ch: &mut Chapter,
    args: &Args,
    data: &Dataset,
    quick: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let steps = if quick { 30 } else { 600 };
    let mut curves: Vec<(bool, History, TransformerLM)> = Vec::new();
    for causal in [true, false] {
        let config = TransformerConfig {
            vocab_size: data.vocab_size(),
            embed_dim: 64,
            num_heads: 4,
            ff_dim: 256,
            num_layers: 2,
            context: args.context,
            causal,
        };
        let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(ch.args.seed));
        // A small model learns faster with a larger step: 3e-3 for width 64.
        let small = Args {
            lr: 3e-3,
            min_lr: 3e-4,
            ..args.clone()
        };
        let cfg = train_config(
            &small,
            steps,
            ch.args.seed,
            if causal { "masked" } else { "unmasked" },
        );
        let history = train::train(&mut model, &mut optimizer(&small), data, &cfg)?;
        curves.push((causal, history, model));
    }
    let probe = &data.val[..data.val.len().min(if quick { 40 } else { 200 })];
    println!("\n   the causal mask: same data, same steps ({steps}), with and without it");
    println!(
        "   {:<22} {:>14} {:>14} {:>22}",
        "model", "train loss", "val loss", "loss, future hidden"
    );
    let mut series = Vec::new();
    let mut hidden = Vec::new(); // loss with the future hidden: masked, then unmasked
    for (i, (causal, history, model)) in curves.iter().enumerate() {
        let label = if *causal {
            "with the causal mask"
        } else {
            "without a mask (§5 as printed)"
        };
        let honest = honest_loss(model, probe);
        hidden.push(honest);
        println!(
            "   {:<22} {:>14.3} {:>14.3} {:>22.3}",
            if *causal { "masked" } else { "unmasked" },
            history.final_train(20),
            history.final_val(),
            honest
        );
        let key = if *causal { "masked" } else { "unmasked" };
        ch.summary
            .record(&format!("{key}: train loss"), history.final_train(20));
        ch.summary
            .record(&format!("{key}: val loss (full windows)"), history.final_val());
        ch.summary
            .record(&format!("{key}: loss with the future hidden"), honest);
        series.push(Series::line(label, plot::smooth(&history.train, 10)).with_color(i));
        let prompt = &data.val[..20];
        let out = model.generate(
            prompt,
            if quick { 40 } else { 160 },
            Sampling::Greedy,
            &mut StdRng::seed_from_u64(0),
            false,
        );
        let text = format!(
            "{}{}",
            data.tokenizer.decode(prompt)?,
            data.tokenizer.decode(&out)?
        );
        print_sample(&format!("greedy sample, {key}"), &text);
        ch.summary.record(&format!("{key}: greedy sample"), text);
    }
    let fig = Figure::new(
        "Training loss with and without the causal mask",
        "step",
        "training cross-entropy (nats per character)",
        &ch.caption(),
    );
    plot::lines(ch.figure("mask_experiment.svg"), &fig, &series)?;
    let (masked, unmasked) = (&curves[0], &curves[1]);
    let (m_train, u_train) = (masked.1.final_train(20), unmasked.1.final_train(20));
    let (m_hidden, u_hidden) = (hidden[0], hidden[1]);
    ch.summary.finding(if u_train < m_train && u_hidden > m_hidden {
        format!(
            "Without the mask the model reads the answer: training loss {u_train:.2} vs {m_train:.2} nats/char with \
             it, but when the future is hidden, as in generation, it pays {u_hidden:.2} against {m_hidden:.2}."
        )
    } else {
        format!(
            "After {steps} steps the unmasked model has not yet learned to read the answer: training loss \
             {u_train:.2} vs {m_train:.2} with the mask; with the future hidden {u_hidden:.2} vs {m_hidden:.2}."
        )
    });
    Ok(())
}

/// Feeding `[B, T, D]` to an attention that expects `[T, B, D]` mixes sequences.
fn batch_layout(ch: &mut Chapter, model: &TransformerLM) {
    let d = model.config.embed_dim;
    let mut rng = StdRng::seed_from_u64(ch.args.seed);
    let (b, t) = (2, 6);
    let x: Tensor = Tensor::randn([b, t, d], 0.0, 1.0, &mut rng);
    let att = &model.blocks[0].attention;
    // The tutorial's call with batch_first=False reads axis 0 as time: that is
    // attention over the transposed tensor [T, B, D] with "sequences" of length B.
    let swap = |x: &Tensor| Tensor::from_fn([x.dims()[1], x.dims()[0], d], |i| x.at(&[i[1], i[0], i[2]]));
    let run = |x: &Tensor, batch_first: bool| -> Tensor {
        let g = Graph::inference();
        if batch_first {
            att.forward(&g, g.constant(x.clone()), false).value()
        } else {
            swap(&att.forward(&g, g.constant(swap(x)), false).value())
        }
    };
    let mut x2 = x.clone();
    for v in &mut x2.data_mut()[t * d..] {
        *v = rng.random_range(-1.0..1.0); // change sequence 2 only
    }
    let seq1 = |y: &Tensor| y.data()[..t * d].to_vec();
    let change = |a: &Tensor, b: &Tensor| {
        seq1(a)
            .iter()
            .zip(seq1(b))
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max)
    };
    let right = change(&run(&x, true), &run(&x2, true));
    let wrong = change(&run(&x, false), &run(&x2, false));
    println!("\n   batch layout: changing sequence 2 of a batch changes sequence 1's attention output by");
    println!(
        "     {right:.2e} with [B, T, D] read as batch-first (correct), {wrong:.3} with it read as [T, B, D]"
    );
    ch.summary
        .record("batch-first: change in seq 1 from seq 2", right as f64);
    ch.summary
        .record("seq-first misread: change in seq 1 from seq 2", wrong as f64);
}

/// Milliseconds per generated token against position, with and without the cache.
fn cache_timing(
    ch: &mut Chapter,
    config: &TransformerConfig,
    quick: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let context = if quick { 64 } else { 384 };
    let cfg = TransformerConfig { context, ..*config };
    let model = TransformerLM::<f32>::new(cfg, &mut StdRng::seed_from_u64(1));
    let tokens: Vec<usize> = (0..context).map(|i| (i * 7) % cfg.vocab_size).collect();
    let (mut cached, mut full) = (Vec::new(), Vec::new());
    let mut cache = KvCache::new(&cfg);
    for pos in 0..context {
        let start = Instant::now();
        model.step_cached(&mut cache, tokens[pos]);
        cached.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        model.next_logits(&tokens[..=pos]);
        full.push(start.elapsed().as_secs_f64() * 1e3);
    }
    // Median of each block of 8 positions: robust to a stray slow step.
    let blocks = |v: &[f64]| -> Vec<(f64, f64)> {
        v.chunks(8)
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.to_vec();
                c.sort_by(f64::total_cmp);
                ((i * 8 + c.len() / 2) as f64, c[c.len() / 2])
            })
            .collect()
    };
    let (c, f) = (blocks(&cached), blocks(&full));
    let fig = Figure::new(
        &format!(
            "Time per generated token (D = {}, {} layers)",
            cfg.embed_dim, cfg.num_layers
        ),
        "position of the new token",
        "milliseconds per token",
        &ch.caption_timed(),
    )
    .legend(Legend::UpperLeft);
    plot::lines(
        ch.figure("kv_cache.svg"),
        &fig,
        &[
            Series::line("recompute the whole prefix", f.clone()).with_mark(Mark::LinePoints),
            Series::line("key-value cache", c.clone()).with_mark(Mark::LinePoints),
        ],
    )?;
    let last = |v: &[(f64, f64)]| v.last().map_or(f64::NAN, |p| p.1);
    println!(
        "\n   generation: {:.3} ms/token at the start and {:.3} at position {} with the cache; {:.3} → {:.3} without",
        c[0].1,
        last(&c),
        context,
        f[0].1,
        last(&f)
    );
    ch.summary.record("cache ms/token at start", c[0].1);
    ch.summary.record("cache ms/token at end", last(&c));
    ch.summary.record("recompute ms/token at start", f[0].1);
    ch.summary.record("recompute ms/token at end", last(&f));
    ch.summary.finding(format!(
        "With the cache a token costs {:.2} ms at position {context} ({:.1}x its cost at the start); recomputing the \
         prefix costs {:.2} ms ({:.0}x).",
        last(&c),
        last(&c) / c[0].1,
        last(&f),
        last(&f) / f[0].1
    ));
    Ok(())
}

#[allow(dead_code)]
fn main() {
    main_with(run)
}
