//! Chapter 1: why a language model needs short-term memory.
//!
//! A model that predicts the next character from the last k characters can only
//! be as good as what those k characters tell it. We count n-grams for
//! k = 0…8 and measure held-out cross-entropy: it falls quickly, then flattens
//! (or, with naive smoothing, rises again) because longer contexts are seen too
//! rarely to count. And on the built-in corpus's *answers*, the words a story
//! fixed long before, no k ≤ 8 helps at all. A learned model with a longer
//! memory is needed: chapters 3 to 5 build one.
//!
//! ```text
//! cargo run --release --bin ch01
//! ```

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, Program, sizes, the_corpus};
use shortmem::data::{self, Corpus, Dataset};
use shortmem::models::{Bigram, NGram, Smoothing};
use shortmem::optim::{AdamW, DecayFilter};
use shortmem::plot::{self, Legend, Mark, Series};
use shortmem::train::{self, History, TrainConfig};
use std::error::Error;
use std::path::Path;

pub const PROGRAM: Program = Program {
    id: "ch01",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch01",
    allow_negative_numbers = true,
    about = "Chapter 1: why memory matters (n-grams with 0..8 characters of context, a neural bigram)",
    mut_arg("steps", |a| a.help(format!("Training steps of the neural bigram [default: {}; {} with --quick]", FULL.bigram_steps, QUICK.bigram_steps)))
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Longest n-gram context, in characters (at most 8).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(0..=8))]
    pub max_k: u8,
}

/// The sizes of a run.
struct Sizes {
    /// Longest n-gram context (at most `--max-k`).
    max_k: usize,
    bigram_steps: usize,
    /// Also count Tiny Shakespeare, when it is there.
    shakespeare: bool,
}

const FULL: Sizes = Sizes {
    max_k: 8,
    bigram_steps: 1000,
    shakespeare: true,
};
const QUICK: Sizes = Sizes {
    max_k: 5,
    bigram_steps: 150,
    shakespeare: false,
};

pub fn run(args: Args) -> ChapterResult {
    let size = sizes(&args.common, FULL, QUICK);
    let max_k = size.max_k.min(args.max_k as usize);
    let extra = if args.max_k != 8 {
        vec![format!("--max-k {}", args.max_k)]
    } else {
        vec![]
    };
    let mut ch = Chapter::start("ch01", "Why memory matters", args.common, &extra)?;
    let (name, data, corpus) = ch.dataset()?;
    ch.require_text(
        &name,
        &data,
        (66, 10),
        "the bigram trains on windows of 65 characters",
    )?;
    println!(
        "   {name}: {} characters, vocabulary of {}, {} for training, {} for validation",
        data.train.len() + data.val.len(),
        data.vocab_size(),
        data.train.len(),
        data.val.len()
    );

    let curves = more_context(&ch, &name, &data, max_k, size.shakespeare);
    let bigram = neural_bigram(&mut ch, &data, size.bigram_steps)?;
    draw_context(&mut ch, &curves, &name, &bigram)?;
    if let Some(corpus) = &corpus {
        story_answers(&mut ch, &data, corpus, &curves[0])?;
    }
    conclude(&mut ch, &name, &data, &curves[0], bigram.final_val());
    if let Some(shakespeare) = curves.get(1) {
        real_text(&ch, &curves[0], shakespeare, &bigram)?;
    }
    ch.finish()
}

/// Held-out cross-entropy (nats/char) of n-gram models for k = 0..=max_k.
struct Curve {
    name: String,
    add_one: Vec<f64>,
    witten_bell: Vec<f64>,
    /// Witten–Bell on the training text itself: how well it memorises.
    train_wb: Vec<f64>,
    /// The fitted counts (orders 0..=max_k), reused for the story-answer scores.
    model: NGram,
}

impl Curve {
    /// Counts n-grams of `data`'s training text and scores them, for every k, on
    /// the same held-out positions: those with `max_k` characters before them.
    fn fit(name: &str, data: &Dataset, max_k: usize) -> Curve {
        let model = NGram::fit(&data.train, data.vocab_size(), max_k);
        let train_sample = &data.train[..data.train.len().min(data.val.len())];
        let score = |tokens: &[usize], k, s| model.cross_entropy(tokens, max_k, k, s, None);
        let ks = 0..=max_k;
        Curve {
            name: name.into(),
            add_one: ks
                .clone()
                .map(|k| score(&data.val, k, Smoothing::AddOne))
                .collect(),
            witten_bell: ks
                .clone()
                .map(|k| score(&data.val, k, Smoothing::WittenBell))
                .collect(),
            train_wb: ks
                .map(|k| score(train_sample, k, Smoothing::WittenBell))
                .collect(),
            model,
        }
    }

    fn max_k(&self) -> usize {
        self.witten_bell.len() - 1
    }

    /// The k with the lowest Witten–Bell loss.
    fn best_k(&self) -> usize {
        argmin(&self.witten_bell)
    }
}

/// Index of the smallest value.
fn argmin(v: &[f64]) -> usize {
    (0..v.len()).min_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

fn points(v: &[f64]) -> Vec<(f64, f64)> {
    v.iter().enumerate().map(|(k, &y)| (k as f64, y)).collect()
}

/// § More context helps, then stops helping: n-gram curves on the corpus (and on
/// Tiny Shakespeare, when it is there), printed as a table.
fn more_context(ch: &Chapter, name: &str, data: &Dataset, max_k: usize, shakespeare: bool) -> Vec<Curve> {
    ch.section("n-grams with k characters of context");
    let mut curves = vec![Curve::fit(name, data, max_k)];
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/tinyshakespeare.txt");
    if shakespeare && ch.args.corpus.is_none() {
        match data::load_text(&path) {
            Ok(text) => curves.push(Curve::fit("Tiny Shakespeare", &Dataset::from_text(&text), max_k)),
            Err(e) => println!("   (skipping Tiny Shakespeare: {e})"),
        }
    }
    println!("   held-out cross-entropy of n-gram models, nats/char (bits/char)");
    let short = |name: &str| -> String {
        name.split_whitespace()
            .last()
            .unwrap_or(name)
            .chars()
            .take(11)
            .collect()
    };
    let mut header = format!("   {:>3}", "k");
    for c in &curves {
        let (a, w) = (
            format!("{} add-one", short(&c.name)),
            format!("{} Witten-Bell", short(&c.name)),
        );
        header += &format!("  {a:>24} {w:>24}");
    }
    println!("{header}");
    let cell = |x: f64| format!("{x:.3} ({:.3})", x / 2f64.ln());
    for k in 0..=max_k {
        let row: String = curves
            .iter()
            .map(|c| format!("  {:>24} {:>24}", cell(c.add_one[k]), cell(c.witten_bell[k])))
            .collect();
        println!("   {k:>3}{row}");
    }
    curves
}

/// § Real text, when Tiny Shakespeare is next to the course: its n-gram
/// curves beside the corpus's, in `tinyshakespeare/` (a summary and figure of
/// their own, so that a run without the file leaves the main ones as they are).
fn real_text(ch: &Chapter, main: &Curve, c: &Curve, bigram: &History) -> Result<(), Box<dyn Error>> {
    let mut part = ch.part("tinyshakespeare", "Why memory matters: Tiny Shakespeare");
    let max_k = c.max_k();
    ngram_figure(&mut part, &[main, c], &main.name, bigram)?;
    let best = c.best_k();
    part.record("best k", best);
    part.record("nats/char at best k", c.witten_bell[best]);
    part.record(&format!("add-one nats/char at k={max_k}"), c.add_one[max_k]);
    part.record("best k (add-one)", argmin(&c.add_one));
    part.record(&format!("nats/char at k={max_k}"), c.witten_bell[max_k]);
    part.record(
        &format!("training-text nats/char at k={max_k}"),
        c.train_wb[max_k],
    );
    part.finding(format!(
        "On Tiny Shakespeare even Witten-Bell stops improving at k={best} ({:.2} nats/char) and reaches {:.2} at \
         k={max_k}, while on its own training text it keeps falling to {:.2}: long contexts are memorised, not learned.",
        c.witten_bell[best], c.witten_bell[max_k], c.train_wb[max_k]
    ));
    part.finish()?;
    Ok(())
}

/// § A neural bigram, trained with the common trainer, learns the counts.
fn neural_bigram(ch: &mut Chapter, data: &Dataset, steps: usize) -> Result<History, Box<dyn Error>> {
    ch.section("a neural bigram");
    let steps = ch.steps(steps);
    let mut cfg = TrainConfig::new(steps, 32, 64, 0.1);
    cfg.seed = ch.seed();
    cfg.label = "bigram".into();
    let mut bigram = Bigram::new(data.vocab_size(), &mut StdRng::seed_from_u64(ch.seed()));
    let mut opt = AdamW::nanogpt(0.1).weight_decay(0.0, DecayFilter::MatricesOnly);
    let history = train::train(&mut bigram, &mut opt, data, &cfg)?;
    println!(
        "   neural bigram: validation loss {:.3} nats/char after {steps} steps ({:.0} tokens/s)\n",
        history.final_val(),
        history.tokens_per_second()
    );
    ch.record("neural bigram val nats/char", history.final_val());
    Ok(history)
}

/// The figures of the first two sections: loss against k on the text the run
/// read, and the bigram's training.
fn draw_context(
    ch: &mut Chapter,
    curves: &[Curve],
    name: &str,
    bigram: &History,
) -> Result<(), Box<dyn Error>> {
    ngram_figure(ch, &[&curves[0]], name, bigram)?;
    let y = "cross-entropy (nats per character)";
    let counted = curves[0].witten_bell[1.min(curves[0].max_k())];
    let fig = ch.frame("Neural bigram: training and validation loss", "step", y);
    let series = [
        Series::line("train (moving mean of 25 steps)", plot::smooth(&bigram.train, 25)),
        Series::line("validation", bigram.val_points()).with_mark(Mark::LinePoints),
        Series::reference("count-based bigram (k = 1, Witten-Bell)", counted),
    ];
    ch.lines("bigram_loss.svg", &fig, &series)?;
    Ok(())
}

/// `ngram_vs_context.svg`: the n-gram curves of `curves` against k, one colour
/// per text, and the neural bigram's point on the first.
fn ngram_figure(
    ch: &mut Chapter,
    curves: &[&Curve],
    name: &str,
    bigram: &History,
) -> Result<(), Box<dyn Error>> {
    let mut series = Vec::new();
    // One colour per corpus: solid Witten-Bell, dashed add-one, dots on the training text.
    for (i, c) in curves.iter().enumerate() {
        let color = i.min(1);
        series.extend([
            Series::line(&format!("{} · Witten-Bell", c.name), points(&c.witten_bell))
                .with_mark(Mark::LinePoints)
                .with_color(color),
            Series::line(&format!("{} · add-one", c.name), points(&c.add_one))
                .with_mark(Mark::Dashed)
                .with_color(color),
            Series::line(
                &format!("{} · Witten-Bell scored on its training text", c.name),
                points(&c.train_wb),
            )
            .with_mark(Mark::Points)
            .with_color(color),
        ]);
    }
    let point = vec![(1.0, bigram.final_val())];
    series.push(
        Series::line(&format!("{name} · neural bigram (k = 1)"), point)
            .with_mark(Mark::Points)
            .with_color(2),
    );
    let (x, y) = (
        "context length k (characters)",
        "cross-entropy (nats per character)",
    );
    let fig = ch
        .frame("Held-out cross-entropy of character n-gram models", x, y)
        .legend(Legend::Outside);
    ch.lines("ngram_vs_context.svg", &fig, &series)?;
    Ok(())
}

/// § What k characters cannot remember: the loss on the built-in stories'
/// answers, which an earlier sentence fixed, against the loss elsewhere.
fn story_answers(
    ch: &mut Chapter,
    data: &Dataset,
    corpus: &Corpus,
    curve: &Curve,
) -> Result<(), Box<dyn Error>> {
    ch.section("story answers");
    let (max_k, best_k) = (curve.max_k(), curve.best_k());
    let split = data.train.len();
    let val_part = |m: Vec<bool>| m[split..split + data.val.len()].to_vec();
    let starts = val_part(corpus.answer_start_mask());
    let answers = val_part(corpus.answer_mask());
    let others: Vec<bool> = answers.iter().map(|m| !m).collect();
    let ce = |mask: &[bool]| -> Vec<f64> {
        let score = |k| {
            curve
                .model
                .cross_entropy(&data.val, max_k, k, Smoothing::WittenBell, Some(mask))
        };
        (0..=max_k).map(score).collect()
    };
    let (on_starts, on_answers, elsewhere) = (ce(&starts), ce(&answers), ce(&others));
    let fig = ch.frame(
        "What k characters cannot remember: loss on story answers",
        "context length k (characters)",
        "cross-entropy (nats per character)",
    );
    let series = [
        Series::line("first character of each answer", points(&on_starts)).with_mark(Mark::LinePoints),
        Series::line("all answer characters", points(&on_answers)).with_mark(Mark::LinePoints),
        Series::line("all other characters", points(&elsewhere)).with_mark(Mark::LinePoints),
    ];
    ch.lines("answers_vs_context.svg", &fig, &series)?;
    ch.record(
        "answers in validation text",
        starts.iter().filter(|&&m| m).count(),
    );
    ch.record(
        &format!("answer-start nats/char at k={best_k}"),
        on_starts[best_k],
    );
    ch.record(&format!("answer nats/char at k={best_k}"), on_answers[best_k]);
    ch.record(&format!("other nats/char at k={best_k}"), elsewhere[best_k]);
    ch.finding(format!(
        "Where a story's earlier sentences decide the next word, the best n-gram pays {:.2} nats on its first \
         character, {:.0}x the {:.2} it pays on other characters: the fact lies beyond any {max_k}-character window.",
        on_starts[best_k],
        on_starts[best_k] / elsewhere[best_k].max(1e-9),
        elsewhere[best_k]
    ));
    Ok(())
}

/// The numbers the sections found, and what they mean.
fn conclude(ch: &mut Chapter, name: &str, data: &Dataset, main: &Curve, bigram_val: f64) {
    let (max_k, best_k) = (main.max_k(), main.best_k());
    let counted = main.witten_bell[1.min(max_k)];
    ch.record("corpus", name);
    ch.record("vocabulary", data.vocab_size());
    ch.record("best k (Witten-Bell)", best_k);
    ch.record("nats/char at k=0", main.witten_bell[0]);
    ch.record("nats/char at best k", main.witten_bell[best_k]);
    ch.record("bits/char at best k", main.witten_bell[best_k] / 2f64.ln());
    ch.record(&format!("add-one nats/char at k={max_k}"), main.add_one[max_k]);
    ch.record("best k (add-one)", argmin(&main.add_one));
    ch.record("count bigram val nats/char", counted);
    ch.finding(format!(
        "On {}, more context keeps helping with Witten-Bell ({:.2} nats/char at k=0, {:.2} at k={best_k}), \
         but naive add-one smoothing is best at k={} and worse beyond ({:.2} at k={max_k}).",
        the_corpus(name),
        main.witten_bell[0],
        main.witten_bell[best_k],
        argmin(&main.add_one),
        main.add_one[max_k]
    ));
    ch.finding(format!(
        "The neural bigram learns the counts by gradient descent: {bigram_val:.3} vs {counted:.3} nats/char for the counted bigram."
    ));
}
