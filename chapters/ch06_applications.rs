//! Chapter 6: the applications of §6 as tasks the models learn and are scored
//! on: dialogue memory (bAbI tasks 1 and 2), summarisation, translation (SCAN,
//! simple and length splits) and code generation (words to a program, judged
//! by running it). Each task: a Transformer and an RNN with about as many
//! parameters, the same examples and steps, trained on the answer only,
//! decoded greedily on held-out prompts; accuracy against the memory the
//! prompt demands, and one table with the published results beside ours.
//!
//! ```text
//! cargo run --release --bin ch06
//! ```

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::autograd::Module;
use shortmem::chapter::{
    Chapter, ChapterResult, CommonArgs, Program, Transcript, mean_interval95, mean_sd, output_dir, sizes,
};
use shortmem::checkpoint::Checkpointed;
use shortmem::data::CharTokenizer;
use shortmem::data::apps::{
    Arithmetic, DIALOGUE_PEOPLE, DIALOGUE_PLACES, Dialogue, END, Example, SEP as SEP_CHAR, Scan, ScanSplit,
    Splits, Summary, TooFewExamples, Words, dialogue_words, is_move, is_person_question, moves,
};
use shortmem::models::{Activation, LanguageModel, Rnn, TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::plot::{Mark, Series};
use shortmem::sample::{GenerateError, Sampling};
use shortmem::tasks::{Encoded, Judge, Verdict, encode_examples, end_id, forced_right, train_answers};
use shortmem::train::TrainConfig;
use std::collections::BTreeMap;
use std::error::Error;
use std::io::BufRead;
use std::path::PathBuf;

pub const PROGRAM: Program = Program {
    id: "ch06",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch06",
    allow_negative_numbers = true,
    about = "Chapter 6: dialogue, summarisation, translation and code generation, learned and scored",
    mut_arg("steps", |a| a.help(format!("Base training steps per application, scaled by each one's length [default: {}; {} with --full; {} with --quick]", DEFAULT.steps, FULL.steps, QUICK.steps)))
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The book's run: three seeds, longer training, larger test sets.
    #[arg(long, conflicts_with = "quick")]
    pub full: bool,
    /// Run one task only: dialogue, dialogue2, summary, scan, scan-length or code (its figures go to a folder of their own, `<task>/` beside the default run's)
    #[arg(long, value_parser = parse_task, conflicts_with = "chat")]
    pub task: Option<App>,
    /// Talk to the dialogue model: tell it where people go, ask where they
    /// are (reads stdin, one or more sentences per line). Trains the model
    /// first (under a minute), unless --load gives one.
    #[arg(long, conflicts_with = "full")]
    pub chat: bool,
    /// With --chat: the dialogue model saved by an earlier `--chat --save FILE`.
    #[arg(long, value_name = "FILE", requires = "chat", conflicts_with = "save")]
    pub load: Option<PathBuf>,
    /// With --chat: keep the model trained for the chat in FILE (the weights
    /// of its best validation; see --save-last).
    #[arg(long, value_name = "FILE", requires = "chat")]
    pub save: Option<PathBuf>,
    /// With --save: keep the weights of the last step, even if an earlier
    /// validation was better.
    #[arg(long, requires = "save")]
    pub save_last: bool,
}

fn parse_task(s: &str) -> Result<App, String> {
    APPS.iter().copied().find(|a| a.flag() == s).ok_or_else(|| {
        let names: Vec<&str> = APPS.iter().map(|a| a.flag()).collect();
        format!("unknown task {s:?}; the tasks are {}", names.join(", "))
    })
}

/// The sizes of a run.
#[derive(Clone, Copy)]
struct Sizes {
    /// Training steps of the quickest task (code); the others train
    /// [`App::step_factor`] times as long (`--steps` sets this base).
    steps: usize,
    /// Examples per training step.
    batch: usize,
    /// Distinct training examples drawn per task (SCAN has its own).
    train: usize,
    val: usize,
    test: usize,
    seeds: usize,
    /// Transformer width; the RNN's hidden size is chosen to match its parameters.
    width: usize,
}

const DEFAULT: Sizes = Sizes {
    steps: 400,
    batch: 16,
    train: 20_000,
    val: 100,
    test: 500,
    seeds: 1,
    width: 64,
};
/// `--full`: the book's run.
const FULL: Sizes = Sizes {
    steps: 1000,
    val: 300,
    test: 1000,
    seeds: 3,
    ..DEFAULT
};
const QUICK: Sizes = Sizes {
    steps: 10,
    batch: 16,
    train: 500,
    val: 20,
    test: 40,
    seeds: 1,
    width: 16,
};

/// One application of §6, as a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Dialogue,
    DialogueTwoFacts,
    Summary,
    ScanSimple,
    ScanLength,
    Code,
}

const APPS: [App; 6] = [
    App::Dialogue,
    App::DialogueTwoFacts,
    App::Summary,
    App::ScanSimple,
    App::ScanLength,
    App::Code,
];

impl App {
    /// The name `--task` takes.
    fn flag(self) -> &'static str {
        match self {
            App::Dialogue => "dialogue",
            App::DialogueTwoFacts => "dialogue2",
            App::Summary => "summary",
            App::ScanSimple => "scan",
            App::ScanLength => "scan-length",
            App::Code => "code",
        }
    }

    /// The name in the summary's keys.
    fn key(self) -> &'static str {
        match self {
            App::Dialogue => "dialogue",
            App::DialogueTwoFacts => "dialogue (two facts)",
            App::Summary => "summarisation",
            App::ScanSimple => "translation (simple)",
            App::ScanLength => "translation (length)",
            App::Code => "code",
        }
    }

    /// What the score is called in the keys.
    fn measure(self) -> &'static str {
        match self {
            App::Dialogue | App::DialogueTwoFacts => "accuracy",
            App::Summary | App::ScanSimple | App::ScanLength => "exact match",
            App::Code => "functional accuracy",
        }
    }

    /// The memory demand, as the figure's x axis names it.
    fn demand(self) -> &'static str {
        match self {
            App::Dialogue | App::DialogueTwoFacts => {
                "turns between the oldest supporting fact and the question"
            }
            App::Summary => "events in the story",
            App::ScanSimple | App::ScanLength => "actions in the translation",
            App::Code => "operations in the description",
        }
    }

    /// Published results on the task the toy stands for: (who, score).
    fn published(self) -> &'static [(&'static str, f64)] {
        match self {
            App::Dialogue => &[
                ("LSTM, bAbI 1k (Weston et al. 2015)", 0.50),
                ("MemN2N, one configuration (Sukhbaatar et al. 2015)", 0.999),
            ],
            App::DialogueTwoFacts => &[
                ("LSTM, bAbI 1k (Weston et al. 2015)", 0.20),
                ("MemN2N, one configuration (Sukhbaatar et al. 2015)", 0.784),
            ],
            App::ScanSimple => &[("seq2seq, best overall (Lake & Baroni 2018)", 0.998)],
            App::ScanLength => &[
                ("seq2seq, overall best (Lake & Baroni 2018)", 0.138),
                ("seq2seq, best on this split (Lake & Baroni 2018)", 0.208),
            ],
            App::Code => &[("minGPT adder, 2-digit sums (as reported)", 0.999)],
            App::Summary => &[],
        }
    }

    /// How many times the base steps this task trains: code and summaries
    /// the fewest; dialogue the most, since the Transformer's lookup of the latest
    /// move forms only after some 3,000 steps (see the validation curve of
    /// `--task dialogue --full`).
    fn step_factor(self) -> f64 {
        match self {
            App::Code | App::Summary => 1.5,
            App::ScanSimple | App::ScanLength => 2.0,
            App::Dialogue | App::DialogueTwoFacts => 5.0,
        }
    }

    /// Does the model read this task one symbol per word ([`Words`])? The
    /// published models of bAbI and SCAN read words as tokens; code keeps its
    /// characters, since its numbers are written digit by digit.
    fn reads_words(self) -> bool {
        self != App::Code
    }

    fn splits(self, size: &Sizes, seed: u64) -> Result<Splits, TooFewExamples> {
        let sizes = (size.train, size.val, size.test);
        let scan = |split| {
            let mut s = Scan::new().split(split, size.val, seed);
            s.test.truncate(size.test.max(1));
            s.train.truncate(size.train);
            s
        };
        match self {
            App::Dialogue => Splits::draw(|r| Dialogue::new(false, 1, 4).example(r), sizes, seed),
            App::DialogueTwoFacts => Splits::draw(|r| Dialogue::new(true, 2, 4).example(r), sizes, seed),
            App::Summary => Splits::draw(|r| Summary::new(1, 6).example(r), sizes, seed),
            App::ScanSimple => Ok(scan(ScanSplit::Simple)),
            App::ScanLength => Ok(scan(ScanSplit::Length)),
            App::Code => Splits::draw(|r| Arithmetic::new(1, 3).example(r), sizes, seed),
        }
    }

    /// How this task's answers are scored: code by running it, summaries
    /// with partial credit per item, the others word for word.
    fn judge(self) -> Judge {
        match self {
            App::Code => Judge::Runs,
            App::Summary => Judge::Items,
            _ => Judge::Exact,
        }
    }
}

pub fn run(args: Args) -> ChapterResult {
    if args.common.corpus.is_some() {
        // The tour passes its flags to every chapter; this one has no corpus.
        println!("   (ch06 trains on its own tasks: --corpus FILE is not used here)\n");
    }
    if args.chat {
        return chat(&args);
    }
    let size = if args.full {
        FULL
    } else {
        sizes(&args.common, DEFAULT, QUICK)
    };
    let mut common = args.common;
    if common.out.is_none() {
        // The larger run and one-task runs keep their own figures, beside the
        // default run's: `full/`, `<task>/`, `full/<task>/`.
        let mut dir = output_dir("ch06", &common);
        if args.full {
            dir = dir.join("full");
        }
        if let Some(task) = args.task {
            dir = dir.join(task.flag());
        }
        common.out = Some(dir);
    }
    let mut extra = Vec::new();
    if args.full {
        extra.push("--full".to_string());
    }
    if let Some(task) = args.task {
        extra.push(format!("--task {}", task.flag()));
    }
    let mut ch = Chapter::start("ch06", "Applications", common, &extra)?;
    show_the_tasks(&mut ch, &size)?;
    let mut rows = Vec::new();
    for app in APPS.into_iter().filter(|a| args.task.is_none_or(|t| t == *a)) {
        rows.push(learn(&mut ch, app, &size)?);
    }
    table(&mut ch, &rows)?;
    ch.finish()
}

/// § One example of each task, as the model reads it.
fn show_the_tasks(ch: &mut Chapter, size: &Sizes) -> Result<(), Box<dyn Error>> {
    ch.section("the four applications as tasks");
    let mut tr = Transcript::default();
    tr.anchor("examples");
    for app in APPS {
        let s = app.splits(
            &Sizes {
                train: 1,
                val: 1,
                test: 1,
                ..*size
            },
            ch.seed(),
        )?;
        let e = &s.train[0];
        // An answer given in between ends with END: shown as ⏎.
        let prompt = e.prompt.replace(END, "⏎ ");
        tr.say(format!("{:<22} {prompt}  ⇒  {}", app.key(), e.answer));
    }
    tr.end("examples");
    ch.write_transcript("examples.txt", &tr)?;
    Ok(())
}

/// What one model scored on one task over the seeds.
#[derive(Default)]
struct Scores {
    /// Per seed: the mean score, and the mean F1.
    runs: Vec<(f64, f64)>,
    /// demand → per seed (right, asked).
    by_demand: BTreeMap<usize, Vec<(f64, f64)>>,
    /// The first seed's first wrong answers: (example, what the model wrote).
    wrong: Vec<(Example, String)>,
}

impl Scores {
    fn mean(&self) -> f64 {
        mean_sd(&self.runs.iter().map(|r| r.0).collect::<Vec<_>>()).0
    }

    /// The mean score and its 95 % interval over the seeds, as text:
    /// "0.912 ± 0.031", or "0.912" from one seed.
    fn shown(&self) -> String {
        match mean_interval95(&self.runs.iter().map(|r| r.0).collect::<Vec<_>>()) {
            (m, Some(half)) => format!("{m:.3} ± {half:.3}"),
            (m, None) => format!("{m:.3}"),
        }
    }

    fn f1(&self) -> f64 {
        mean_sd(&self.runs.iter().map(|r| r.1).collect::<Vec<_>>()).0
    }

    /// The mean score at each demand over the seeds, and the examples asked there per seed.
    fn at_demand(&self) -> Vec<(usize, f64, f64)> {
        self.by_demand
            .iter()
            .map(|(&d, runs)| {
                let score = mean_sd(&runs.iter().map(|(r, n)| r / n.max(1.0)).collect::<Vec<_>>()).0;
                let asked = runs.iter().map(|r| r.1).sum::<f64>() / runs.len().max(1) as f64;
                (d, score, asked)
            })
            .collect()
    }

    /// The accuracy at each demand, mean and spread over seeds.
    fn series(&self, label: &str, color: usize) -> Series {
        let (points, spread): (Vec<(f64, f64)>, Vec<f64>) = self
            .by_demand
            .iter()
            .map(|(&d, runs)| {
                let (m, s) = mean_sd(&runs.iter().map(|(r, n)| r / n.max(1.0)).collect::<Vec<_>>());
                ((d as f64, m), s)
            })
            .unzip();
        Series::line(label, points)
            .with_mark(Mark::LinePoints)
            .with_spread(spread)
            .with_color(color)
    }
}

/// The Transformer of every task: §5's model, 2 blocks of 4 heads, width D.
fn new_transformer(vocab_size: usize, width: usize, context: usize, seed: u64) -> TransformerLM {
    let config = TransformerConfig {
        vocab_size,
        embed_dim: width,
        num_heads: 4,
        ff_dim: 4 * width,
        num_layers: 2,
        context,
        causal: true,
    };
    TransformerLM::new(config, &mut StdRng::seed_from_u64(seed))
}

/// A row of the chapter's table.
struct Row {
    app: App,
    transformer: Scores,
    rnn: Scores,
}

/// § One task: both models trained per seed, decoded greedily on the test set.
fn learn(ch: &mut Chapter, app: App, size: &Sizes) -> Result<Row, Box<dyn Error>> {
    ch.section(&format!("{} ({})", app.key(), app.measure()));
    let steps = (ch.steps(size.steps) as f64 * app.step_factor()).round() as usize;
    let (mut transformer, mut rnn) = (Scores::default(), Scores::default());
    // Per model, per seed: (step, validation exact match).
    let mut curves: [Vec<Vec<(f64, f64)>>; 2] = Default::default();
    for s in 0..size.seeds {
        let seed = ch.seed() + s as u64;
        let splits = app.splits(size, seed)?;
        // What the model reads: one symbol per word, or the characters.
        let words = app
            .reads_words()
            .then(|| Words::of(&splits, !matches!(app, App::ScanSimple | App::ScanLength)));
        let read = match &words {
            Some(w) => w.encode_splits(&splits)?,
            None => splits.clone(),
        };
        let tok = CharTokenizer::from_text(&read.alphabet());
        let end = end_id(&tok).ok_or("the task's alphabet lacks END")?;
        let (train, val, test) = (
            encode_examples(&tok, &read.train)?,
            encode_examples(&tok, &read.val)?,
            encode_examples(&tok, &read.test)?,
        );
        let context = read.longest();
        let mut cfg = TrainConfig::new(steps, size.batch, context, 3e-3);
        cfg.seed = seed;
        let mut lm = new_transformer(tok.vocab_size(), size.width, context, seed);
        cfg.label = format!("{} transformer", app.key());
        let t_hist = train_answers(&mut lm, &mut AdamW::nanogpt(3e-3), (&train, &val), end, &cfg)?;
        let hidden = matching_hidden(lm.num_params(), tok.vocab_size());
        let mut r = Rnn::<f32>::new(
            tok.vocab_size(),
            hidden,
            Activation::Tanh,
            &mut StdRng::seed_from_u64(seed),
        );
        cfg.label = format!("{} rnn", app.key());
        let r_hist = train_answers(&mut r, &mut AdamW::nanogpt(3e-3), (&train, &val), end, &cfg)?;
        for (curve, hist) in curves.iter_mut().zip([&t_hist, &r_hist]) {
            curve.push(
                hist.val
                    .iter()
                    .map(|&(step, err)| (step as f64, 1.0 - err))
                    .collect(),
            );
        }
        if s == 0 {
            println!(
                "   {} training examples, {} test; Transformer D = {} ({} parameters), RNN H = {hidden} ({}); {steps} steps",
                splits.train.len(),
                splits.test.len(),
                size.width,
                lm.num_params(),
                r.num_params()
            );
            ch.record(&format!("{}: Transformer parameters", app.key()), lm.num_params());
            ch.record(&format!("{}: RNN parameters", app.key()), r.num_params());
            ch.record(&format!("{}: training steps", app.key()), steps);
        }
        let started = std::time::Instant::now();
        score(
            app,
            (&lm, generate_transformer),
            (&tok, words.as_ref()),
            &test,
            &splits.test,
            &mut transformer,
        )?;
        let t_score = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        score(
            app,
            (&r, generate_rnn),
            (&tok, words.as_ref()),
            &test,
            &splits.test,
            &mut rnn,
        )?;
        println!(
            "   seed {seed}: trained in {:.0} s and {:.0} s, scored in {:.0} s and {:.0} s (Transformer, RNN)",
            t_hist.seconds,
            r_hist.seconds,
            t_score,
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "   {}: Transformer {}, RNN {} ({})",
        app.measure(),
        transformer.shown(),
        rnn.shown(),
        if size.seeds == 1 {
            "1 seed, no interval; --full runs 3".to_string()
        } else {
            format!("mean and 95 % interval over {} seeds", size.seeds)
        }
    );
    let fig = ch.frame(
        &format!("{}: {} against memory demand", app.key(), app.measure()),
        app.demand(),
        app.measure(),
    );
    let series = [transformer.series("Transformer", 1), rnn.series("RNN (§4.1)", 0)];
    ch.lines(&format!("{}.svg", app.flag()), &fig, &series)?;
    learning_curves(ch, app, &curves)?;
    Ok(Row {
        app,
        transformer,
        rnn,
    })
}

/// The validation exact match during training (mean and spread over seeds):
/// where a lookup forms, the curve jumps.
fn learning_curves(
    ch: &mut Chapter,
    app: App,
    curves: &[Vec<Vec<(f64, f64)>>; 2],
) -> Result<(), Box<dyn Error>> {
    let fig = ch.frame(
        &format!("{}: validation {} during training", app.key(), app.measure()),
        "training step",
        &format!("validation {}", app.measure()),
    );
    let series: Vec<Series> = curves
        .iter()
        .zip([("Transformer", 1), ("RNN (§4.1)", 0)])
        .map(|(runs, (label, color))| {
            let (points, spread): (Vec<(f64, f64)>, Vec<f64>) = (0..runs[0].len())
                .map(|i| {
                    let (m, sd) = mean_sd(&runs.iter().map(|r| r[i].1).collect::<Vec<_>>());
                    ((runs[0][i].0, m), sd)
                })
                .unzip();
            Series::line(label, points).with_spread(spread).with_color(color)
        })
        .collect();
    ch.lines(&format!("{}-learning.svg", app.flag()), &fig, &series)?;
    Ok(())
}

/// The RNN hidden size whose parameters (U, W, V and the two biases:
/// H² + (2V + 1)·H + V) come closest to `params`.
fn matching_hidden(params: usize, vocab: usize) -> usize {
    let count = |h: usize| h * h + (2 * vocab + 1) * h + vocab;
    (1..4096).min_by_key(|&h| count(h).abs_diff(params)).unwrap_or(1)
}

/// Greedy generation: `n` tokens after a prompt.
type Generate<M> = fn(&M, &[usize], usize) -> Result<Vec<usize>, GenerateError>;

fn generate_transformer(lm: &TransformerLM, prompt: &[usize], n: usize) -> Result<Vec<usize>, GenerateError> {
    lm.generate(prompt, n, Sampling::Greedy, &mut StdRng::seed_from_u64(0), true)
}

fn generate_rnn(rnn: &Rnn, prompt: &[usize], n: usize) -> Result<Vec<usize>, GenerateError> {
    rnn.generate(prompt, n, Sampling::Greedy, &mut StdRng::seed_from_u64(0))
}

/// Scores the model on the test set. Which answers greedy decoding writes
/// word for word is read from one teacher-forced pass ([`forced_right`]: the
/// same set, found without decoding); the others are decoded greedily where
/// what they say still counts (a program may compute the right value in other
/// words, a summary may be partly right).
fn score<M: LanguageModel>(
    app: App,
    (model, generate): (&M, Generate<M>),
    (tok, words): (&CharTokenizer, Option<&Words>),
    test: &[Encoded],
    examples: &[Example],
    into: &mut Scores,
) -> Result<(), Box<dyn Error>> {
    let end = end_id(tok).ok_or("the task's alphabet lacks END")?;
    let exact = forced_right(model, test, end);
    let judge = app.judge();
    let decode = judge.decodes();
    // Room for a right answer written longer than the reference (a program
    // with extra parentheses).
    let budget = test.iter().map(|e| e.answer().len()).max().unwrap_or(0) + 8;
    // Greedy, with the model's own memory (the RNN's state, the Transformer's
    // key-value cache), cut at the first END.
    let write = |i: usize| -> Result<String, Box<dyn Error>> {
        let mut ids = generate(model, test[i].prompt(), budget)?;
        ids.truncate(ids.iter().position(|&t| t == end).unwrap_or(ids.len()));
        let said = tok.decode(&ids)?;
        Ok(match words {
            Some(w) if w.answers() => w.decode(&said)?,
            _ => said,
        })
    };
    let first_seed = into.runs.is_empty();
    let (mut total, mut f1) = (0.0, 0.0);
    let mut by: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        let shown = first_seed && into.wrong.len() < SHOWN_WRONG;
        let said = (!exact[i] && (decode || shown)).then(|| write(i)).transpose()?;
        let Verdict { right: s, f1: f } = judge.verdict(exact[i], said.as_deref(), &e.answer);
        if let Some(said) = said
            && s < 1.0
            && first_seed
            && into.wrong.len() < SHOWN_WRONG
        {
            into.wrong.push((e.clone(), said));
        }
        total += s;
        f1 += f;
        let b = by.entry(e.demand).or_default();
        b.0 += s;
        b.1 += 1.0;
    }
    let n = examples.len().max(1) as f64;
    into.runs.push((total / n, f1 / n));
    for (d, v) in by {
        into.by_demand.entry(d).or_default().push(v);
    }
    Ok(())
}

/// How many wrong answers of each model the chapter shows per task.
const SHOWN_WRONG: usize = 4;

/// § The table: every task, both models, the published numbers beside.
fn table(ch: &mut Chapter, rows: &[Row]) -> Result<(), Box<dyn Error>> {
    ch.section("all four applications");
    let mut tr = Transcript::default();
    tr.anchor("table");
    tr.say(format!(
        "{:<22} {:<20} {:>15} {:>15}   published",
        "task", "score", "Transformer", "RNN"
    ));
    for row in rows {
        let published: Vec<String> = row
            .app
            .published()
            .iter()
            .map(|(w, v)| format!("{w}: {v:.3}"))
            .collect();
        tr.say(format!(
            "{:<22} {:<20} {:>15} {:>15}   {}",
            row.app.key(),
            row.app.measure(),
            row.transformer.shown(),
            row.rnn.shown(),
            published.join("; ")
        ));
        ch.record(
            &format!("{}: Transformer {}", row.app.key(), row.app.measure()),
            row.transformer.mean(),
        );
        ch.record(
            &format!("{}: RNN {}", row.app.key(), row.app.measure()),
            row.rnn.mean(),
        );
        for (model, scores) in [("Transformer", &row.transformer), ("RNN", &row.rnn)] {
            let per_seed: Vec<f64> = scores.runs.iter().map(|r| r.0).collect();
            ch.record(
                &format!("{}: {model} {} per seed", row.app.key(), row.app.measure()),
                per_seed,
            );
        }
        ch.finding(format!(
            "{}: {} {:.2} for the Transformer, {:.2} for the RNN{}",
            row.app.key(),
            row.app.measure(),
            row.transformer.mean(),
            row.rnn.mean(),
            row.app
                .published()
                .last()
                .map_or(String::new(), |(who, v)| format!(" ({who}: {v:.3})"))
        ));
        if row.app == App::Summary {
            ch.record("summarisation: Transformer item F1", row.transformer.f1());
            ch.record("summarisation: RNN item F1", row.rnn.f1());
        }
    }
    tr.end("table");
    // Each task's score at each memory demand, the numbers behind its figure.
    for row in rows {
        let anchor = format!("demand-{}", row.app.flag());
        tr.anchor(&anchor);
        tr.say(format!(
            "{}: {} at each demand ({})",
            row.app.key(),
            row.app.measure(),
            row.app.demand()
        ));
        tr.say(format!(
            "{:>6} {:>12} {:>8}   test examples per seed",
            "demand", "Transformer", "RNN"
        ));
        for ((d, t, asked), (_, r, _)) in row.transformer.at_demand().into_iter().zip(row.rnn.at_demand()) {
            tr.say(format!("{d:>6} {t:>12.3} {r:>8.3}   {asked:.0}"));
        }
        tr.end(&anchor);
    }
    ch.write_transcript("table.txt", &tr)?;
    // What the models wrote where they were wrong (first seed, first test examples).
    let mut tr = Transcript::default();
    for row in rows {
        let anchor = format!("wrong-{}", row.app.flag());
        tr.anchor(&anchor);
        for (model, scores) in [("Transformer", &row.transformer), ("RNN", &row.rnn)] {
            tr.say(format!("{}, {model}: first wrong answers", row.app.key()));
            if scores.wrong.is_empty() {
                tr.say("  (none)");
            }
            for (e, said) in &scores.wrong {
                tr.say(format!(
                    "  {}",
                    e.prompt.replace(SEP_CHAR, "=").replace(END, "⏎ ")
                ));
                tr.say(format!("    wrote {said:?}, right {:?}", e.answer));
            }
        }
        tr.end(&anchor);
    }
    ch.write_transcript("answers.txt", &tr)?;
    Ok(())
}

/// The training steps of the chat's model: past the ~3,000 where its lookup
/// of the latest move forms, and under a minute.
const CHAT_STEPS: usize = 6000;

/// `--chat`: a conversation with the dialogue model (task 1) on stdin.
fn chat(args: &Args) -> ChapterResult {
    let words = Words::from_list(dialogue_words(), true);
    let tok = chat_tokenizer(&words);
    let model = match &args.load {
        Some(path) => {
            let (model, saved) = TransformerLM::load(path)?;
            if saved != tok {
                return Err(format!(
                    "{} is not a dialogue model saved by `ch06 --chat --save`: its alphabet differs",
                    path.display()
                )
                .into());
            }
            model
        }
        None => train_chat_model(args, &words, &tok)?,
    };
    println!(
        "Tell me where people go and ask me where they are, for example:\n  \
         Mary went to the kitchen. John moved to the garden. Where is Mary?\n\
         People: {}. Places: {}. Moves: {}. `forget` starts afresh. \
         I read the last {} symbols of our conversation.",
        DIALOGUE_PEOPLE.join(", "),
        DIALOGUE_PLACES.join(", "),
        moves().join(", "),
        model.config.context
    );
    let end = end_id(&tok).ok_or("the chat's alphabet lacks END")?;
    let mut said: Vec<String> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim() == "forget" {
            said.clear();
            println!("(forgotten)");
            continue;
        }
        let turns = match chat_turns(&line, &words) {
            Ok(t) => t,
            Err(e) => {
                println!("! {e}");
                continue;
            }
        };
        for (symbols, question) in turns {
            if !question {
                said.push(symbols);
                continue;
            }
            // The conversation so far, cut from the front to fit the model's
            // context (with room for the answer and its END).
            let ask = format!("{symbols}{SEP_CHAR}");
            let room = model.config.context.saturating_sub(2);
            let count =
                |s: &[String]| s.iter().map(|t| t.chars().count()).sum::<usize>() + ask.chars().count();
            let mut forgot = 0;
            while !said.is_empty() && count(&said) > room {
                said.remove(0);
                forgot += 1;
            }
            if forgot > 0 {
                println!("(the oldest {forgot} turn(s) no longer fit in what I read)");
            }
            let prompt = tok.encode(&format!("{}{ask}", said.concat()))?;
            let mut ids = generate_transformer(&model, &prompt, 2)?;
            ids.truncate(ids.iter().position(|&t| t == end).unwrap_or(ids.len()));
            let answer = words.decode(&tok.decode(&ids)?)?;
            println!("{}", if answer.is_empty() { "(no answer)" } else { &answer });
            said.push(format!("{ask}{}{END}", words.encode(&answer)?));
        }
    }
    Ok(shortmem::chapter::Summary::new(
        "ch06",
        "a chat with the dialogue model",
    ))
}

/// The chat's tokenizer: every dialogue word's symbol, the punctuation, SEP and END.
fn chat_tokenizer(words: &Words) -> CharTokenizer {
    let text = words.encode(&words.list().join(" ")).unwrap_or_default();
    CharTokenizer::from_text(&format!("{text}.?{SEP_CHAR}{END}"))
}

/// Trains the chat's Transformer on task 1 (and saves it with --save).
fn train_chat_model(
    args: &Args,
    words: &Words,
    tok: &CharTokenizer,
) -> Result<TransformerLM, Box<dyn Error>> {
    let size = sizes(&args.common, DEFAULT, QUICK);
    let steps = if args.common.quick {
        size.steps
    } else {
        args.common.steps.unwrap_or(CHAT_STEPS)
    };
    let seed = args.common.seed;
    println!("Training the dialogue model ({steps} steps; --load FILE skips this)...");
    let splits = App::Dialogue.splits(&size, seed)?;
    let read = words.encode_splits(&splits)?;
    let (train, val) = (
        encode_examples(tok, &read.train)?,
        encode_examples(tok, &read.val)?,
    );
    // As long as the longest training conversation: the chat keeps the last
    // turns that fit, the model's short-term memory made visible.
    let context = read.longest();
    let mut cfg = TrainConfig::new(steps, size.batch, context, 3e-3);
    cfg.seed = seed;
    cfg.label = "dialogue model".into();
    // --save keeps (and the chat uses) the best validation's weights.
    cfg.keep_best = args.save.is_some() && !args.save_last;
    let mut lm = new_transformer(tok.vocab_size(), size.width, context, seed);
    let end = end_id(tok).ok_or("the chat's alphabet lacks END")?;
    let hist = train_answers(&mut lm, &mut AdamW::nanogpt(3e-3), (&train, &val), end, &cfg)?;
    let (last_step, last) = hist.val.last().copied().unwrap_or((steps, f64::NAN));
    let kept = match &hist.best {
        Some(best) if best.step != last_step => {
            best.restore(&mut lm)?;
            format!(
                "the weights of step {}, the best validation (error {:.3}; the last step's was {last:.3}, \
                 --save-last keeps those)",
                best.step, best.val
            )
        }
        _ if args.save_last => format!("the weights of the last step, {last_step}, as --save-last asks"),
        _ => format!("the weights of the last step, {last_step}, which is also the best"),
    };
    let right = forced_right(&lm, &val, end);
    println!(
        "Trained in {:.0} s: {:.0} % of {} held-out questions right.\n",
        hist.seconds,
        100.0 * right.iter().filter(|&&r| r).count() as f64 / right.len().max(1) as f64,
        right.len()
    );
    if let Some(path) = &args.save {
        lm.save(path, tok)?;
        println!(
            "Saved {kept} to {} (chat with it again: ch06 --chat --load {0}).\n",
            path.display()
        );
    }
    Ok(lm)
}

/// A line of the chat as turns in symbols, each a statement (false) or a
/// question (true); the error says what in the line it cannot read.
fn chat_turns(line: &str, words: &Words) -> Result<Vec<(String, bool)>, String> {
    let mut turns = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let Some(cut) = rest.find(['.', '?']) else {
            return Err(format!(
                "{rest:?} has no full stop or question mark: end each statement with '.' and each question with '?'"
            ));
        };
        let (sentence, mark) = (rest[..cut].trim(), &rest[cut..cut + 1]);
        rest = rest[cut + 1..].trim_start();
        let symbols = words
            .encode(&format!("{sentence}{mark}"))
            .map_err(|e| e.to_string())?;
        let question = mark == "?";
        if question && !is_person_question(sentence) {
            return Err(format!(
                "I can answer only \"Where is <person>?\", not {sentence:?}"
            ));
        }
        if !question && !is_move(sentence) {
            return Err(format!(
                "I understand only moves such as \"Mary went to the kitchen.\", not {sentence:?}"
            ));
        }
        turns.push((symbols, question));
    }
    Ok(turns)
}
