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
    Chapter, ChapterResult, CommonArgs, Program, Transcript, mean_sd, output_dir, sizes,
};
use shortmem::data::CharTokenizer;
use shortmem::data::apps::{
    Arithmetic, Dialogue, Example, Scan, ScanSplit, Splits, Summary, TooFewExamples, eval, summary_f1,
};
use shortmem::models::{Activation, LanguageModel, Rnn, TransformerConfig, TransformerLM};
use shortmem::optim::AdamW;
use shortmem::plot::{Mark, Series};
use shortmem::sample::{GenerateError, Sampling};
use shortmem::tasks::{Encoded, encode_examples, end_id, forced_right, train_answers};
use shortmem::train::TrainConfig;
use std::collections::BTreeMap;
use std::error::Error;

pub const PROGRAM: Program = Program {
    id: "ch06",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch06",
    allow_negative_numbers = true,
    about = "Chapter 6: dialogue, summarisation, translation and code generation, learned and scored"
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The book's run: three seeds, longer training, larger test sets.
    #[arg(long, conflicts_with = "quick")]
    pub full: bool,
    /// Run one task only: dialogue, dialogue2, summary, scan, scan-length or code.
    #[arg(long, value_parser = parse_task)]
    pub task: Option<App>,
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
    steps: 250,
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
    batch: 32,
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

    /// How many times the base steps this task trains: translation needs the
    /// longest, code the shortest (compare `--task scan --steps 200` with
    /// `--steps 1000`).
    fn step_factor(self) -> usize {
        match self {
            App::Code => 1,
            App::Dialogue | App::DialogueTwoFacts | App::Summary => 2,
            App::ScanSimple | App::ScanLength => 3,
        }
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
            App::DialogueTwoFacts => Splits::draw(|r| Dialogue::new(true, 1, 4).example(r), sizes, seed),
            App::Summary => Splits::draw(|r| Summary::new(1, 6).example(r), sizes, seed),
            App::ScanSimple => Ok(scan(ScanSplit::Simple)),
            App::ScanLength => Ok(scan(ScanSplit::Length)),
            App::Code => Splits::draw(|r| Arithmetic::new(1, 3).example(r), sizes, seed),
        }
    }

    /// The score of one answer: 1 or 0 (for code: does the program give the
    /// right value when run), and its F1 for summaries.
    fn score(self, said: &str, e: &Example) -> (f64, f64) {
        let exact = if self == App::Code {
            eval(said).is_ok_and(|v| Ok(v) == eval(&e.answer))
        } else {
            said == e.answer
        };
        let f1 = if self == App::Summary {
            summary_f1(said, &e.answer)
        } else {
            f64::from(u8::from(exact))
        };
        (f64::from(u8::from(exact)), f1)
    }
}

pub fn run(args: Args) -> ChapterResult {
    let size = if args.full {
        FULL
    } else {
        sizes(&args.common, DEFAULT, QUICK)
    };
    let mut common = args.common;
    if args.full && common.out.is_none() {
        common.out = Some(output_dir("ch06", &common).join("full"));
    }
    let extra = if args.full {
        vec!["--full".to_string()]
    } else {
        vec![]
    };
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
        tr.say(format!("{:<22} {}  ⇒  {}", app.key(), e.prompt, e.answer));
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
}

impl Scores {
    fn mean(&self) -> (f64, f64) {
        mean_sd(&self.runs.iter().map(|r| r.0).collect::<Vec<_>>())
    }

    fn f1(&self) -> f64 {
        mean_sd(&self.runs.iter().map(|r| r.1).collect::<Vec<_>>()).0
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

/// A row of the chapter's table.
struct Row {
    app: App,
    transformer: Scores,
    rnn: Scores,
}

/// § One task: both models trained per seed, decoded greedily on the test set.
fn learn(ch: &mut Chapter, app: App, size: &Sizes) -> Result<Row, Box<dyn Error>> {
    ch.section(&format!("{} ({})", app.key(), app.measure()));
    let steps = ch.steps(size.steps) * app.step_factor();
    let (mut transformer, mut rnn) = (Scores::default(), Scores::default());
    for s in 0..size.seeds {
        let seed = ch.seed() + s as u64;
        let splits = app.splits(size, seed)?;
        let tok = CharTokenizer::from_text(&splits.alphabet());
        let end = end_id(&tok).ok_or("the task's alphabet lacks END")?;
        let (train, val, test) = (
            encode_examples(&tok, &splits.train)?,
            encode_examples(&tok, &splits.val)?,
            encode_examples(&tok, &splits.test)?,
        );
        let context = splits.longest();
        let mut cfg = TrainConfig::new(steps, size.batch, context, 3e-3);
        cfg.seed = seed;
        let config = TransformerConfig {
            vocab_size: tok.vocab_size(),
            embed_dim: size.width,
            num_heads: 4,
            ff_dim: 4 * size.width,
            num_layers: 2,
            context,
            causal: true,
        };
        let mut lm = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(seed));
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
        if s == 0 {
            println!(
                "   {} training examples, {} test; Transformer D = {} ({} parameters), RNN H = {hidden} ({}); {steps} steps",
                splits.train.len(),
                splits.test.len(),
                size.width,
                lm.num_params(),
                r.num_params()
            );
        }
        let started = std::time::Instant::now();
        score(
            app,
            (&lm, generate_transformer),
            &tok,
            &test,
            &splits.test,
            &mut transformer,
        )?;
        let t_score = started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        score(app, (&r, generate_rnn), &tok, &test, &splits.test, &mut rnn)?;
        println!(
            "   seed {seed}: trained in {:.0} s and {:.0} s, scored in {:.0} s and {:.0} s (Transformer, RNN)",
            t_hist.seconds,
            r_hist.seconds,
            t_score,
            started.elapsed().as_secs_f64()
        );
    }
    let (t, r) = (transformer.mean(), rnn.mean());
    println!(
        "   {}: Transformer {:.3} ± {:.3}, RNN {:.3} ± {:.3} ({} seed{})",
        app.measure(),
        t.0,
        t.1,
        r.0,
        r.1,
        size.seeds,
        if size.seeds == 1 { "; --full runs 3" } else { "s" }
    );
    let fig = ch.frame(
        &format!("{}: {} against memory demand", app.key(), app.measure()),
        app.demand(),
        app.measure(),
    );
    let series = [transformer.series("Transformer", 1), rnn.series("RNN (§4.1)", 0)];
    ch.lines(&format!("{}.svg", app.flag()), &fig, &series)?;
    Ok(Row {
        app,
        transformer,
        rnn,
    })
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
    tok: &CharTokenizer,
    test: &[Encoded],
    examples: &[Example],
    into: &mut Scores,
) -> Result<(), Box<dyn Error>> {
    let end = end_id(tok).ok_or("the task's alphabet lacks END")?;
    let exact = forced_right(model, test, end);
    let decode = matches!(app, App::Code | App::Summary);
    // Room for a right answer written longer than the reference (a program
    // with extra parentheses).
    let budget = examples.iter().map(|e| e.answer.len()).max().unwrap_or(0) + 8;
    let (mut total, mut f1) = (0.0, 0.0);
    let mut by: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        let (s, f) = if exact[i] {
            (1.0, 1.0)
        } else if decode {
            // Greedy, with the model's own memory (the RNN's state, the
            // Transformer's key-value cache), cut at the first END.
            let mut ids = generate(model, test[i].prompt(), budget)?;
            ids.truncate(ids.iter().position(|&t| t == end).unwrap_or(ids.len()));
            app.score(&tok.decode(&ids)?, e)
        } else {
            (0.0, 0.0)
        };
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

/// § The table: every task, both models, the published numbers beside.
fn table(ch: &mut Chapter, rows: &[Row]) -> Result<(), Box<dyn Error>> {
    ch.section("all four applications");
    let mut tr = Transcript::default();
    tr.anchor("table");
    tr.say(format!(
        "{:<22} {:<20} {:>13} {:>13}   published",
        "task", "score", "Transformer", "RNN"
    ));
    for row in rows {
        let (t, r) = (row.transformer.mean(), row.rnn.mean());
        let published: Vec<String> = row
            .app
            .published()
            .iter()
            .map(|(w, v)| format!("{w}: {v:.3}"))
            .collect();
        tr.say(format!(
            "{:<22} {:<20} {:>6.3} ± {:.3} {:>6.3} ± {:.3}   {}",
            row.app.key(),
            row.app.measure(),
            t.0,
            t.1,
            r.0,
            r.1,
            published.join("; ")
        ));
        ch.record(
            &format!("{}: Transformer {}", row.app.key(), row.app.measure()),
            t.0,
        );
        ch.record(&format!("{}: RNN {}", row.app.key(), row.app.measure()), r.0);
        if row.app == App::Summary {
            ch.record("summarisation: Transformer item F1", row.transformer.f1());
            ch.record("summarisation: RNN item F1", row.rnn.f1());
        }
    }
    tr.end("table");
    ch.write_transcript("table.txt", &tr)?;
    Ok(())
}
