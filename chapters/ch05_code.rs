//! Chapter 5: the tutorial's PyTorch `TransformerLM`, rebuilt and put to work.
//!
//! Trains the §5 model (with the positional encoding and causal mask that §5
//! leaves out) with nanoGPT's small CPU recipe, samples from it, then shows
//! what goes wrong without the mask or with the wrong batch layout, and how a
//! key–value cache keeps generation fast.
//!
//! ```text
//! cargo run --release --bin ch05
//! cargo run --release --bin ch05 -- --corpus ../shared/data/tinyshakespeare.txt --train-only
//! ```

use clap::Parser;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::chapter::{
    Chapter, ChapterResult, CommonArgs, Program, Summary, check_memory, check_writable, decay_rate,
    non_empty, non_negative_f64, positive_f64, positive_usize, sizes, the_corpus, usage_error,
};
use shortmem::checkpoint::{self, Checkpointed, MAX_CONTEXT};
use shortmem::data::{CharTokenizer, Dataset, opening};
use shortmem::models::{KvCache, TransformerConfig, TransformerLM};
use shortmem::optim::{AdamW, DecayFilter, Schedule};
use shortmem::plot::{Legend, Mark, Series, loss_curves, smooth};
use shortmem::sample::{Sampling, nll};
use shortmem::train::{self, History, TrainConfig};
use shortmem::{Graph, Module, Tensor};
use std::error::Error;
use std::path::Path;
use std::time::Instant;

pub const PROGRAM: Program = Program {
    id: "ch05",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch05",
    allow_negative_numbers = true,
    about = "Chapter 5: the §5 TransformerLM trained, sampled, and its missing pieces (mask, batch layout, KV cache)",
    mut_arg("steps", |a| a.help(format!("Training steps of the §5 TransformerLM [default: {}; {} with --quick] (the mask experiment trains {})", FULL.steps, QUICK.steps, FULL.mask_steps)))
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Transformer blocks.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Attention heads per block.
    #[arg(long, default_value_t = 4, value_parser = positive_usize)]
    pub heads: usize,
    /// Model width D.
    #[arg(long, default_value_t = 128, value_parser = positive_usize)]
    pub embed: usize,
    /// Hidden width of the feed-forward layers.
    #[arg(long, default_value_t = 512, value_parser = positive_usize)]
    pub ff: usize,
    /// Tokens per training window (and the longest context, at most 65,536).
    #[arg(long, default_value_t = 64, value_parser = positive_usize)]
    pub context: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 12, value_parser = positive_usize)]
    pub batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 1e-3, value_parser = positive_f64)]
    pub lr: f64,
    /// Final learning rate of the cosine decay.
    #[arg(long, default_value_t = 1e-4, value_parser = non_negative_f64)]
    pub min_lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// AdamW's β₂.
    #[arg(long, default_value_t = 0.99, value_parser = decay_rate)]
    pub beta2: f64,
    /// AdamW weight decay (on matrices only).
    #[arg(long, default_value_t = 0.1, value_parser = non_negative_f64)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this.
    #[arg(long, default_value_t = 1.0, value_parser = positive_f64)]
    pub clip: f64,
    /// Train and report only: skip the mask, batch-layout and cache experiments.
    #[arg(long, conflicts_with = "load")]
    pub train_only: bool,
    /// How samples are drawn: greedy, temp:T or topk:K:T.
    #[arg(long, default_value = "topk:5:0.8")]
    pub sampling: Sampling,
    /// Text to start the samples with (default: the opening of the validation
    /// text, from a line or word boundary).
    #[arg(long, value_parser = non_empty)]
    pub prompt: Option<String>,
    /// Save the trained model (weights, sizes, alphabet) to this safetensors
    /// file: the weights with the best validation loss (see --save-last).
    #[arg(long, value_name = "FILE", conflicts_with = "load")]
    pub save: Option<std::path::PathBuf>,
    /// With --save: save the weights of the last step, even if an earlier
    /// validation was better.
    #[arg(long, requires = "save")]
    pub save_last: bool,
    /// Skip training: load a model saved with --save and write --tokens characters after --prompt.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["corpus", "steps", "quick"])]
    pub load: Option<std::path::PathBuf>,
    /// How many characters to generate with --load (at most 1,000,000).
    #[arg(long, default_value_t = 500, value_parser = token_count)]
    pub tokens: usize,
}

/// `--tokens`: from 1 to a million characters.
fn token_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 1000000".into()),
    }
}

impl Args {
    /// The flags that differ from their defaults, for the reproducing command.
    fn changed(&self) -> Vec<String> {
        let d = Args::parse_from(["ch05"]);
        let values = |a: &Args| {
            [
                a.layers.to_string(),
                a.heads.to_string(),
                a.embed.to_string(),
                a.ff.to_string(),
                a.context.to_string(),
                a.batch.to_string(),
                a.lr.to_string(),
                a.min_lr.to_string(),
                a.warmup.to_string(),
                a.beta2.to_string(),
                a.weight_decay.to_string(),
                a.clip.to_string(),
            ]
        };
        let names = [
            "layers",
            "heads",
            "embed",
            "ff",
            "context",
            "batch",
            "lr",
            "min-lr",
            "warmup",
            "beta2",
            "weight-decay",
            "clip",
        ];
        let mut flags: Vec<String> = (names.iter().zip(values(self)).zip(values(&d)))
            .filter(|((_, mine), default)| mine != default)
            .map(|((name, mine), _)| format!("--{name} {mine}"))
            .collect();
        if self.train_only {
            flags.push("--train-only".into());
        }
        if let Some(p) = &self.save {
            flags.push(format!("--save {}", p.display()));
        }
        if self.save_last {
            flags.push("--save-last".into());
        }
        flags
    }

    /// The training flags given with --load, which sampling a saved model does
    /// not use (its sizes are the file's).
    fn ignored_by_load(&self) -> Vec<String> {
        let mut flags: Vec<String> = self
            .changed()
            .iter()
            .map(|f| f.split(' ').next().unwrap_or("").to_string())
            .collect();
        if self.common.out.is_some() {
            flags.push("--out".into());
        }
        if self.common.timings {
            flags.push("--timings".into());
        }
        flags
    }
}

/// The sizes of a run.
struct Sizes {
    /// The model's width, heads, feed-forward width and blocks (`None`: the flags).
    model: Option<(usize, usize, usize, usize)>,
    /// Training steps (`--steps`), and characters per sample.
    steps: usize,
    sample: usize,
    /// The mask experiment: steps, the validation characters scored, the sample.
    mask_steps: usize,
    mask_probe: usize,
    mask_sample: usize,
    /// The longest context the key–value cache is timed at.
    cache_context: usize,
}

const FULL: Sizes = Sizes {
    model: None,
    steps: 2000,
    sample: 300,
    mask_steps: 600,
    mask_probe: 200,
    mask_sample: 160,
    cache_context: 384,
};
const QUICK: Sizes = Sizes {
    model: Some((32, 2, 64, 1)),
    steps: 40,
    sample: 60,
    mask_steps: 30,
    mask_probe: 40,
    mask_sample: 40,
    cache_context: 64,
};

pub fn run(args: Args) -> ChapterResult {
    if let Some(path) = &args.load {
        let ignored = args.ignored_by_load();
        if !ignored.is_empty() {
            eprintln!(
                "note: --load samples the saved model as it is: {} {} not used (the file holds the model's sizes)",
                ignored.join(", "),
                if ignored.len() == 1 { "is" } else { "are" }
            );
        }
        sample_saved(&args, path)?;
        return Ok(Summary::new("ch05", "sampling a saved model"));
    }
    let size = sizes(&args.common, FULL, QUICK);
    let (embed_dim, num_heads, ff_dim, num_layers) =
        size.model
            .unwrap_or((args.embed, args.heads, args.ff, args.layers));
    // The flags as given are checked even where --quick overrides them.
    check_flags(&args, (args.embed, args.heads, args.ff, args.layers))?;
    check_flags(&args, (embed_dim, num_heads, ff_dim, num_layers))?;
    check_save(&args)?;
    let mut ch = Chapter::start(
        "ch05",
        "The code in practice",
        args.common.clone(),
        &args.changed(),
    )?;
    let (name, data, _) = ch.dataset()?;
    let why = format!(
        "training reads windows of --context {} + 1 characters, the samples start from the validation text",
        args.context
    );
    ch.require_text(&name, &data, (args.context.saturating_add(2), 20), &why)?;
    if let Some(prompt) = &args.prompt {
        data.tokenizer
            .encode(prompt)
            .map_err(|e| format!("--prompt has {e}"))?;
    }
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim,
        num_heads,
        ff_dim,
        num_layers,
        context: args.context,
        causal: true,
    };
    let (model, history) = train_the_model(&mut ch, &args, &name, &data, config, size.steps)?;
    // --save at once: whatever fails later, the trained model is kept.
    let saved = match &args.save {
        Some(path) => {
            let (best, which) = kept_weights(&args, &history, config)?;
            let saving = best.as_ref().unwrap_or(&model);
            save(path, saving, &data).map_err(|e| rescue(e, false, &model, &data))?;
            println!("   saved {which} to {}", path.display());
            best
        }
        None => None,
    };
    let kept = args.save.is_some();
    let saved = saved.as_ref().unwrap_or(&model);
    after_training(ch, &args, (&model, saved), &data, &size).map_err(|e| rescue(e, kept, &model, &data))
}

/// What `--save` keeps: the weights of the best validation (`Some` model) if
/// an earlier validation beat the last one, unless `--save-last`; and a phrase
/// saying which.
fn kept_weights(
    args: &Args,
    history: &History,
    config: TransformerConfig,
) -> Result<(Option<TransformerLM>, String), Box<dyn Error>> {
    let (last_step, last) = history.val.last().copied().unwrap_or((0, f64::NAN));
    let last_phrase = format!("the weights of the last step, {last_step} (validation loss {last:.4})");
    match &history.best {
        _ if args.save_last => Ok((None, format!("{last_phrase}, as --save-last asks"))),
        Some(best) if best.step != last_step => {
            let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(0));
            best.restore(&mut model)?;
            let which = format!(
                "the weights with the best validation loss, {:.4} at step {} (the last step's was {last:.4}; \
                 --save-last keeps those)",
                best.val, best.step
            );
            Ok((Some(model), which))
        }
        _ => Ok((None, format!("{last_phrase}, which is also the best"))),
    }
}

/// Writes the trained model to `path` (making its folder if need be).
fn save(path: &Path, model: &TransformerLM, data: &Dataset) -> Result<(), Box<dyn Error>> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    Ok(model.save(path, &data.tokenizer)?)
}

/// Everything the chapter does with the trained model.
/// `model` is the trained model, `saved` the one `--save` wrote (the same
/// one, or the weights of its best validation).
fn after_training(
    mut ch: Chapter,
    args: &Args,
    (model, saved): (&TransformerLM, &TransformerLM),
    data: &Dataset,
    size: &Sizes,
) -> ChapterResult {
    samples(&mut ch, args, model, data, size.sample)?;
    checkpoint_round_trip(&mut ch, args, saved, data)?;
    if args.train_only {
        return ch.finish();
    }
    mask_experiment(&mut ch, args, data, size)?;
    batch_layout(&mut ch, model);
    cache_timing(&mut ch, &model.config, size.cache_context)?;
    ch.finish()
}

/// An error after training (writing `--save` included): unless the model is
/// `kept` in the `--save` file, it is saved to a temporary file, and the error
/// says where.
fn rescue(e: Box<dyn Error>, kept: bool, model: &TransformerLM, data: &Dataset) -> Box<dyn Error> {
    if kept {
        return e;
    }
    let path = std::env::temp_dir().join(format!("shortmem-ch05-{}.safetensors", std::process::id()));
    match model.save(&path, &data.tokenizer) {
        Ok(()) => format!("{e} (the trained model is saved in {})", path.display()).into(),
        Err(_) => e,
    }
}

/// `--save FILE` must not be the corpus, nor a folder, and its folder must
/// exist or be possible to make: checked before training, so a bad path costs
/// no training.
fn check_save(args: &Args) -> Result<(), Box<dyn Error>> {
    let Some(save) = &args.save else {
        return Ok(());
    };
    let command = <Args as clap::CommandFactory>::command;
    let same = |a: &Path, b: &Path| {
        a.canonicalize()
            .ok()
            .is_some_and(|a| b.canonicalize().is_ok_and(|b| a == b))
    };
    if let Some(corpus) = &args.common.corpus
        && same(save, corpus)
    {
        let message = format!(
            "--save {} is the --corpus file: saving would overwrite the text",
            save.display()
        );
        return Err(usage_error(command(), message).into());
    }
    if save.is_dir() {
        return Err(usage_error(command(), format!("--save {} is a folder", save.display())).into());
    }
    let folder = save
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    check_writable(folder, "the model").map_err(|e| format!("--save {}: {e}", save.display()))?;
    Ok(())
}

/// The combinations of flags no single flag's check can see, and sizes that
/// would not fit in memory: a usage error (exit status 2) naming them, before
/// anything is read or trained.
fn check_flags(
    args: &Args,
    (embed, heads, ff, layers): (usize, usize, usize, usize),
) -> Result<(), clap::Error> {
    let error = |message: String| Err(usage_error(<Args as clap::CommandFactory>::command(), message));
    if !embed.is_multiple_of(heads) {
        return error(format!(
            "--heads {heads} must divide --embed {embed}: each head gets embed/heads dimensions"
        ));
    }
    if !embed.is_multiple_of(2) {
        return error(format!(
            "--embed {embed} must be even: the positional encoding pairs a sine with a cosine"
        ));
    }
    if args.context > MAX_CONTEXT {
        return error(format!(
            "--context {} is more than the {MAX_CONTEXT} positions a model of this course may have",
            args.context
        ));
    }
    if args.min_lr > args.lr {
        return error(format!(
            "--min-lr {} is above --lr {}: the schedule decays from --lr down to --min-lr",
            args.min_lr, args.lr
        ));
    }
    if args.beta2 < BETA1 {
        return error(format!(
            "--beta2 {} is below AdamW's β₁ = {BETA1}: the second-moment average must be at least as slow as the first's",
            args.beta2
        ));
    }
    if args.lr * args.weight_decay >= 1.0 {
        return error(format!(
            "--lr {} times --weight-decay {} is at least 1: each step would shrink the weights to zero or past it",
            args.lr, args.weight_decay
        ));
    }
    // About what a training step holds, in f32: each weight with its gradient
    // and two AdamW moments; for each token of the batch, what each block saves
    // for the backward pass (some 16 widths, 3 feed-forward widths, and the
    // attention weights of every head over the context), twice (values and
    // gradients), and the logits.
    let (d, f, h, t, b) = (
        embed as f64,
        ff as f64,
        heads as f64,
        args.context as f64,
        args.batch as f64,
    );
    let vocab = 256.0;
    let weights = layers as f64 * (4.0 * d * d + 2.0 * d * f) + 2.0 * vocab * d;
    let per_token = layers as f64 * 2.0 * (16.0 * d + 3.0 * f + 2.0 * h * t) + 3.0 * vocab;
    let bytes = 4.0 * (4.0 * weights + b * t * per_token);
    let flags = format!(
        "--embed {embed} --ff {ff} --layers {layers} --heads {heads} --context {} --batch {}",
        args.context, args.batch
    );
    check_memory(&flags, bytes).or_else(error)
}

/// AdamW's β₁ in the recipe (β₂ is `--beta2`).
const BETA1: f64 = 0.9;

/// The training schedule of the recipe: warm-up, cosine decay, clipping.
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
        .betas(BETA1, args.beta2)
        .weight_decay(args.weight_decay, DecayFilter::MatricesOnly)
}

/// § The §5 model trained with the recipe, and its loss curves.
fn train_the_model(
    ch: &mut Chapter,
    args: &Args,
    name: &str,
    data: &Dataset,
    config: TransformerConfig,
    steps: usize,
) -> Result<(TransformerLM, History), Box<dyn Error>> {
    ch.section("the §5 TransformerLM, trained");
    let steps = ch.steps(steps);
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(ch.seed()));
    println!(
        "   §5 TransformerLM on {}: {} layers, {} heads, D = {}, ff = {}, context {}, {} parameters",
        the_corpus(name),
        config.num_layers,
        config.num_heads,
        config.embed_dim,
        config.ff_dim,
        config.context,
        model.num_params()
    );
    let mut cfg = train_config(args, steps, ch.seed(), "transformer");
    // --save keeps the best validation's weights unless --save-last.
    cfg.keep_best = args.save.is_some() && !args.save_last;
    let history = train::train(&mut model, &mut optimizer(args), data, &cfg)?;
    println!(
        "   validation loss {:.4} nats/char after {steps} steps; {:.0} tokens/s; {:.1} s of training",
        history.final_val(),
        history.tokens_per_second(),
        history.seconds
    );
    let fig = ch.frame(
        &format!("§5 TransformerLM on {}", the_corpus(name)),
        "step",
        "cross-entropy (nats per character)",
    );
    loss_curves(ch.figure("transformer_loss.svg"), &fig, &history)?;
    ch.record("corpus", name);
    ch.record("parameters", model.num_params());
    ch.record("steps", steps);
    ch.record("final val loss", history.final_val());
    ch.record("final train loss (mean of last 50)", history.final_train(50));
    ch.record_time("tokens/s", history.tokens_per_second());
    ch.record_time("training seconds", history.seconds);
    ch.record_time("machine", shortmem::chapter::machine());
    Ok((model, history))
}

fn print_sample(label: &str, text: &str) {
    println!("   {label}:");
    for line in text.lines().take(8) {
        println!("     | {line}");
    }
}

/// § Samples: greedy, then the chosen sampling, after `--prompt` (or the
/// opening of the validation text, from a line or word boundary).
fn samples(
    ch: &mut Chapter,
    args: &Args,
    model: &TransformerLM,
    data: &Dataset,
    tokens: usize,
) -> Result<(), Box<dyn Error>> {
    ch.section("samples");
    let prompt = match &args.prompt {
        Some(p) => data.tokenizer.encode(p)?,
        None => {
            let head = data.tokenizer.decode(&data.val[..data.val.len().min(400)])?;
            data.tokenizer.encode(opening(&head, 40))?
        }
    };
    let prompt_text = data.tokenizer.decode(&prompt)?;
    let mut rng = StdRng::seed_from_u64(ch.seed());
    for how in [Sampling::Greedy, args.sampling] {
        let out = model.generate(&prompt, tokens, how, &mut rng, true)?;
        let text = format!("{prompt_text}{}", data.tokenizer.decode(&out)?);
        print_sample(&format!("sample ({how})"), &text);
        ch.record(&format!("sample ({how})"), text);
    }
    Ok(())
}

/// § The model saved, loaded back, and checked to compute the same logits
/// (the `--save` file, or the same bytes kept in memory: no file of the
/// user's is written or removed).
fn checkpoint_round_trip(
    ch: &mut Chapter,
    args: &Args,
    model: &TransformerLM,
    data: &Dataset,
) -> Result<(), Box<dyn Error>> {
    ch.section("a checkpoint round trip");
    // (A --save file was written right after training.)
    let (bytes, place) = match &args.save {
        Some(path) => (std::fs::read(path)?, format!("saved to {}", path.display())),
        None => (model.to_bytes(&data.tokenizer)?, "written in memory".to_string()),
    };
    let (loaded, tokenizer) = TransformerLM::from_checkpoint(&checkpoint::from_bytes(&bytes, &place)?)?;
    let probe = &data.val[..data.val.len().min(model.config.context)];
    let (a, b) = (model.next_logits(probe), loaded.next_logits(probe));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    println!(
        "   checkpoint: {place} ({} KiB), loaded back: same alphabet {}, max |Δlogit| {diff}",
        bytes.len() / 1024,
        tokenizer == data.tokenizer
    );
    ch.record("checkpoint round trip max |Δlogit|", diff as f64);
    Ok(())
}

/// `--load FILE`: sample from a saved model, no training.
fn sample_saved(args: &Args, path: &Path) -> Result<(), Box<dyn Error>> {
    let (model, tokenizer) = TransformerLM::load(path)?;
    let prompt_text = args.prompt.clone().unwrap_or_else(|| "\n".to_string());
    let prompt = tokenizer
        .encode(&prompt_text)
        .map_err(|e| format!("the prompt has {e}"))?;
    let mut rng = StdRng::seed_from_u64(args.common.seed);
    let out = model.generate(&prompt, args.tokens, args.sampling, &mut rng, true)?;
    println!("{prompt_text}{}", tokenizer.decode(&out)?);
    Ok(())
}

/// Loss of predicting each token of `tokens[1..]` from the tokens before it
/// only: the window ends at the prediction, so nothing later can leak in.
fn honest_loss(model: &TransformerLM, tokens: &[usize]) -> f64 {
    let total: f64 = (1..tokens.len())
        .map(|i| nll(&model.next_logits(&tokens[..i]), tokens[i]))
        .sum();
    total / (tokens.len() - 1) as f64
}

/// § The causal mask: the same small model trained with and without it, then
/// scored with the future hidden, as in generation.
fn mask_experiment(
    ch: &mut Chapter,
    args: &Args,
    data: &Dataset,
    size: &Sizes,
) -> Result<(), Box<dyn Error>> {
    ch.section("without the causal mask");
    let steps = size.mask_steps;
    // A small model learns faster with a larger step: 3e-3 for width 64.
    let small = Args {
        lr: 3e-3,
        min_lr: 3e-4,
        ..args.clone()
    };
    let probe = &data.val[..data.val.len().min(size.mask_probe)];
    println!("   the causal mask: same data, same steps ({steps}), with and without it");
    println!(
        "   {:<22} {:>14} {:>14} {:>22}",
        "model", "train loss", "val loss", "loss, future hidden"
    );
    let mut found = Vec::new(); // (train loss, loss with the future hidden): masked, then unmasked
    let mut series = Vec::new();
    for (i, (causal, key)) in [(true, "masked"), (false, "unmasked")].into_iter().enumerate() {
        let (model, history) = train_small(ch, &small, data, causal, (key, steps))?;
        let hidden = honest_loss(&model, probe);
        let train_loss = history.final_train(20);
        println!(
            "   {key:<22} {train_loss:>14.3} {:>14.3} {hidden:>22.3}",
            history.final_val()
        );
        ch.record(&format!("{key}: train loss"), train_loss);
        ch.record(&format!("{key}: val loss (full windows)"), history.final_val());
        ch.record(&format!("{key}: loss with the future hidden"), hidden);
        let label = if causal {
            "with the causal mask"
        } else {
            "without a mask (§5 as printed)"
        };
        series
            .push(Series::line(&format!("{label}: training loss"), smooth(&history.train, 10)).with_color(i));
        // What counts in generation: the loss when each character is predicted
        // from the ones before it only.
        series
            .push(Series::reference(&format!("{label}: loss with the future hidden"), hidden).with_color(i));
        greedy_sample(ch, &model, data, key, size.mask_sample)?;
        found.push((train_loss, hidden));
    }
    let fig = ch.frame(
        "The causal mask: training loss (solid), loss with the future hidden (dashed)",
        "step",
        "cross-entropy (nats per character)",
    );
    ch.lines("mask_experiment.svg", &fig, &series)?;
    let [(m_train, m_hidden), (u_train, u_hidden)] = [found[0], found[1]];
    ch.finding(if u_train < m_train && u_hidden > m_hidden {
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

/// The mask experiment's model (2 blocks, D = 64), trained with or without the mask.
fn train_small(
    ch: &Chapter,
    args: &Args,
    data: &Dataset,
    causal: bool,
    (label, steps): (&str, usize),
) -> Result<(TransformerLM, History), Box<dyn Error>> {
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 256,
        num_layers: 2,
        context: args.context,
        causal,
    };
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(ch.seed()));
    let cfg = train_config(args, steps, ch.seed(), label);
    let history = train::train(&mut model, &mut optimizer(args), data, &cfg)?;
    Ok((model, history))
}

/// Prints and records a greedy continuation of the validation text's start,
/// generated by recomputation (no cache: the unmasked model has none that helps).
fn greedy_sample(
    ch: &mut Chapter,
    model: &TransformerLM,
    data: &Dataset,
    key: &str,
    tokens: usize,
) -> Result<(), Box<dyn Error>> {
    let tok: &CharTokenizer = &data.tokenizer;
    let head = tok.decode(&data.val[..data.val.len().min(200)])?;
    let prompt = &tok.encode(opening(&head, 20))?;
    let out = model.generate(
        prompt,
        tokens,
        Sampling::Greedy,
        &mut StdRng::seed_from_u64(0),
        false,
    )?;
    let text = format!("{}{}", tok.decode(prompt)?, tok.decode(&out)?);
    print_sample(&format!("greedy sample, {key}"), &text);
    ch.record(&format!("{key}: greedy sample"), text);
    Ok(())
}

/// § Feeding `[B, T, D]` to an attention that expects `[T, B, D]` mixes sequences.
fn batch_layout(ch: &mut Chapter, model: &TransformerLM) {
    ch.section("the batch layout");
    let d = model.config.embed_dim;
    let mut rng = StdRng::seed_from_u64(ch.seed());
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
    // The largest change in sequence 1's output.
    let change = |a: &Tensor, b: &Tensor| {
        let (a, b) = (&a.data()[..t * d], &b.data()[..t * d]);
        a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max)
    };
    let right = change(&run(&x, true), &run(&x2, true));
    let wrong = change(&run(&x, false), &run(&x2, false));
    println!("   batch layout: changing sequence 2 of a batch changes sequence 1's attention output by");
    println!(
        "     {right:.2e} with [B, T, D] read as batch-first (correct), {wrong:.3} with it read as [T, B, D]"
    );
    ch.record("batch-first: change in seq 1 from seq 2", right as f64);
    ch.record("seq-first misread: change in seq 1 from seq 2", wrong as f64);
}

/// (position, milliseconds) points of a timing curve.
type Timings = Vec<(f64, f64)>;

/// Milliseconds to generate each token of `tokens`, with the key–value cache
/// and by recomputing the prefix, as medians of blocks of 8 positions (robust
/// to a stray slow step).
fn time_generation(model: &TransformerLM, tokens: &[usize]) -> (Timings, Timings) {
    let (mut cached, mut full) = (Vec::new(), Vec::new());
    let mut cache = KvCache::new(&model.config);
    for pos in 0..tokens.len() {
        let start = Instant::now();
        model.step_cached(&mut cache, tokens[pos]);
        cached.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        model.next_logits(&tokens[..=pos]);
        full.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let blocks = |v: &[f64]| -> Timings {
        v.chunks(8)
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.to_vec();
                c.sort_by(f64::total_cmp);
                ((i * 8 + c.len() / 2) as f64, c[c.len() / 2])
            })
            .collect()
    };
    (blocks(&cached), blocks(&full))
}

/// § Generation speed with and without the key–value cache, token by token.
fn cache_timing(ch: &mut Chapter, config: &TransformerConfig, context: usize) -> Result<(), Box<dyn Error>> {
    ch.section("the key-value cache");
    let cfg = TransformerConfig { context, ..*config };
    let model = TransformerLM::<f32>::new(cfg, &mut StdRng::seed_from_u64(1));
    let tokens: Vec<usize> = (0..context).map(|i| (i * 7) % cfg.vocab_size).collect();
    let (c, f) = time_generation(&model, &tokens);
    let title = format!(
        "Time per generated token (D = {}, {} layers)",
        cfg.embed_dim, cfg.num_layers
    );
    let fig = ch
        .timed_frame(&title, "position of the new token", "milliseconds per token")
        .legend(Legend::UpperLeft);
    let series = [
        Series::line("recompute the whole prefix", f.clone()).with_mark(Mark::LinePoints),
        Series::line("key-value cache", c.clone()).with_mark(Mark::LinePoints),
    ];
    ch.timed_lines("kv_cache.svg", &fig, &series)?;
    let last = |v: &[(f64, f64)]| v.last().map_or(f64::NAN, |p| p.1);
    let (c0, c1, f0, f1) = (c[0].1, last(&c), f[0].1, last(&f));
    println!(
        "   generation: {c0:.3} ms/token at the start and {c1:.3} at position {context} with the cache; {f0:.3} → {f1:.3} without"
    );
    ch.record_time("cache ms/token at start", c0);
    ch.record_time("cache ms/token at end", c1);
    ch.record_time("recompute ms/token at start", f0);
    ch.record_time("recompute ms/token at end", f1);
    ch.timed_finding(format!(
        "With the cache a token costs {c1:.2} ms at position {context} ({:.1}x its cost at the start); recomputing the \
         prefix costs {f1:.2} ms ({:.0}x).",
        c1 / c0,
        f1 / f0
    ));
    whole_prompt_and_generation(ch, &model, &tokens)
}

/// Median milliseconds of `rounds` runs of `f`.
fn median_ms(rounds: usize, mut f: impl FnMut()) -> f64 {
    let mut ms: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[rounds / 2]
}

/// § The prompt in one pass (the prefill) against token by token, and a whole
/// generation with and without the cache.
fn whole_prompt_and_generation(
    ch: &mut Chapter,
    model: &TransformerLM,
    tokens: &[usize],
) -> Result<(), Box<dyn Error>> {
    let n = tokens.len();
    let prefill = median_ms(5, || {
        model.prefill(&mut KvCache::new(&model.config), tokens);
    });
    let one_by_one = median_ms(5, || {
        let mut cache = KvCache::new(&model.config);
        for &t in tokens {
            model.step_cached(&mut cache, t);
        }
    });
    println!(
        "   a prompt of {n} tokens: {prefill:.1} ms in one pass (the prefill), {one_by_one:.1} ms token by token \
         ({:.1}x)",
        one_by_one / prefill
    );
    ch.record_time("prefill ms for the whole context", prefill);
    ch.record_time("token-by-token ms for the whole context", one_by_one);
    // Generating `new` tokens after a one-token prompt, greedily.
    let new = 256.min(n - 1);
    let run = |use_cache| {
        let mut rng = StdRng::seed_from_u64(0);
        model.generate(&tokens[..1], new, Sampling::Greedy, &mut rng, use_cache)
    };
    let (with, without) = (run(true)?, run(false)?);
    let same = with == without;
    let cached = median_ms(3, || drop(run(true)));
    let recomputed = median_ms(3, || drop(run(false)));
    println!(
        "   generating {new} tokens: {cached:.0} ms with the cache, {recomputed:.0} ms recomputing ({:.1}x); \
         the same tokens both ways: {same}",
        recomputed / cached
    );
    ch.record_time("generation ms with the cache", cached);
    ch.record_time("generation ms recomputing", recomputed);
    ch.record("generation: tokens generated", new as f64);
    ch.record(
        "generation: same tokens with and without the cache",
        f64::from(u8::from(same)),
    );
    ch.timed_finding(format!(
        "A prompt of {n} tokens goes in {:.1}x faster in one pass than token by token; generating {new} tokens is \
         {:.1}x faster with the cache.",
        one_by_one / prefill,
        recomputed / cached
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error after training saves the model to a temporary file, named in
    /// the message, that loads back as the same model; a model already kept by
    /// `--save` is not written again.
    #[test]
    fn an_error_after_training_keeps_the_model() {
        let data = Dataset::from_text(&"Mia put the key in the box. ".repeat(40));
        let config = TransformerConfig {
            vocab_size: data.vocab_size(),
            embed_dim: 8,
            num_heads: 2,
            ff_dim: 8,
            num_layers: 1,
            context: 8,
            causal: true,
        };
        let model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(3));
        let message = rescue("the disk is full".into(), false, &model, &data).to_string();
        let (said, path) = message
            .split_once(" (the trained model is saved in ")
            .expect(&message);
        assert_eq!(said, "the disk is full");
        let path = path.trim_end_matches(')');
        let (loaded, tokenizer) = TransformerLM::load(path).unwrap();
        assert_eq!(tokenizer, data.tokenizer);
        assert_eq!(
            loaded.next_logits(&data.val[..8]),
            model.next_logits(&data.val[..8])
        );
        std::fs::remove_file(path).unwrap();
        let kept = rescue("the disk is full".into(), true, &model, &data).to_string();
        assert_eq!(kept, "the disk is full");
    }
}
