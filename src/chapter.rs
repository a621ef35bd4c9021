//! What every chapter binary shares: the common flags, where figures go, the
//! caption that names the command, and the summary (a table on screen and a
//! `summary.json` next to the figures).

use crate::data::{self, Corpus, Dataset};
use clap::Args;
use serde_json::{Map, Value};
use std::error::Error;
use std::path::{Path, PathBuf};

/// Flags every chapter accepts.
#[derive(Args, Clone, Debug, Default)]
pub struct CommonArgs {
    /// Smoke run with tiny settings (≤ 20 s); the tests use it. Figures go to a
    /// temporary folder unless --out is given.
    #[arg(long)]
    pub quick: bool,
    /// Training steps (each chapter has its own default).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed for data, initialisation and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for matrix products (default: all cores).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub threads: Option<usize>,
    /// Train on this UTF-8 text file instead of the built-in corpus.
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// Where figures and summary.json go (default: book/src/figures/chNN/, or
    /// book/src/figures/chNN/<corpus name>/ with --corpus).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Where a chapter writes its figures: `--out DIR` if given; a temporary folder
/// for `--quick`; `book/src/figures/chNN/` for the book's own runs; and, so that
/// a run on your own text never overwrites the book's figures,
/// `book/src/figures/chNN/<corpus file name>/` with `--corpus`.
pub fn output_dir(id: &str, args: &CommonArgs) -> PathBuf {
    let figures = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("book/src/figures")
        .join(id);
    match (&args.out, args.quick, &args.corpus) {
        (Some(dir), _, _) => dir.clone(),
        (None, true, _) => std::env::temp_dir().join(format!("shortmem-quick-{id}")),
        (None, false, Some(corpus)) => figures.join(
            corpus
                .file_stem()
                .map_or("corpus".into(), |s| s.to_string_lossy().into_owned()),
        ),
        (None, false, None) => figures,
    }
}

/// The result of a chapter run, or the reason it failed.
pub type ChapterResult = Result<Summary, Box<dyn Error>>;

/// A chapter run in progress: its name, flags and output folder.
pub struct Chapter {
    pub id: &'static str,
    pub title: &'static str,
    pub args: CommonArgs,
    /// The exact command that reproduces this run (without `--out`).
    pub command: String,
    pub out: PathBuf,
    pub summary: Summary,
}

impl Chapter {
    /// Sets up a run: applies `--threads`, picks the output folder and starts the summary.
    pub fn start(
        id: &'static str,
        title: &'static str,
        args: CommonArgs,
        extra: &[String],
    ) -> Result<Self, Box<dyn Error>> {
        if let Some(t) = args.threads {
            crate::threads::set_threads(t);
        }
        let out = output_dir(id, &args);
        std::fs::create_dir_all(&out)
            .map_err(|e| format!("cannot create output folder {}: {e}", out.display()))?;
        let mut flags = Vec::new();
        if args.quick {
            flags.push("--quick".to_string());
        }
        if let Some(s) = args.steps {
            flags.push(format!("--steps {s}"));
        }
        if args.seed != 0 {
            flags.push(format!("--seed {}", args.seed));
        }
        if let Some(c) = &args.corpus {
            flags.push(format!("--corpus {}", c.display()));
        }
        flags.extend(extra.iter().cloned());
        let command = format!(
            "cargo run --release --bin {id}{}{}",
            if flags.is_empty() { "" } else { " -- " },
            flags.join(" ")
        );
        println!("== {id}: {title}");
        println!("   {command}\n");
        Ok(Chapter {
            id,
            title,
            args,
            command,
            out,
            summary: Summary::new(id, title),
        })
    }

    /// Path of a figure in the output folder; also recorded in the summary.
    pub fn figure(&mut self, name: &str) -> PathBuf {
        let p = self.out.join(name);
        self.summary.figures.push(p.clone());
        p
    }

    /// The caption line of a figure: the command that made it.
    pub fn caption(&self) -> String {
        format!("made by: {}", self.command)
    }

    /// The caption for a figure that shows timings: the command and the machine.
    pub fn caption_timed(&self) -> String {
        format!("made by: {}  ·  on {}", self.command, machine())
    }

    /// The text to train on: `--corpus FILE` if given, else the built-in corpus.
    pub fn text(&self) -> Result<(String, String, Option<Corpus>), Box<dyn Error>> {
        match &self.args.corpus {
            Some(path) => {
                let text = data::load_text(path)?;
                let name = path
                    .file_name()
                    .map_or("corpus".into(), |n| n.to_string_lossy().into_owned());
                Ok((name, text, None))
            }
            None => {
                let bytes = if self.args.quick { 200_000 } else { 1_000_000 };
                let corpus = Corpus::generate(self.args.seed, bytes);
                Ok(("built-in corpus".into(), corpus.text.clone(), Some(corpus)))
            }
        }
    }

    /// Tokenized text with the 90/10 split.
    pub fn dataset(&self) -> Result<(String, Dataset, Option<Corpus>), Box<dyn Error>> {
        let (name, text, corpus) = self.text()?;
        Ok((name, Dataset::from_text(&text), corpus))
    }

    /// Prints the summary table and writes summary.json; returns the summary.
    pub fn finish(mut self) -> ChapterResult {
        self.summary.record("command", self.command.clone());
        self.summary.print();
        let path = self.out.join("summary.json");
        std::fs::write(&path, self.summary.to_json())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("\n   figures and summary.json in {}", self.out.display());
        Ok(self.summary)
    }
}

/// What a chapter found: named numbers (and text), its figures, and a few
/// sentences of conclusion.
#[derive(Clone, Debug)]
pub struct Summary {
    pub chapter: String,
    pub title: String,
    pub values: Vec<(String, Value)>,
    pub findings: Vec<String>,
    pub figures: Vec<PathBuf>,
}

impl Summary {
    pub fn new(chapter: &str, title: &str) -> Self {
        Summary {
            chapter: chapter.into(),
            title: title.into(),
            values: Vec::new(),
            findings: Vec::new(),
            figures: Vec::new(),
        }
    }

    /// Records a named value (a number, a string, a list…).
    pub fn record(&mut self, key: &str, value: impl Into<Value>) {
        self.values.push((key.into(), value.into()));
    }

    /// Records one sentence of what the chapter shows.
    pub fn finding(&mut self, text: impl Into<String>) {
        self.findings.push(text.into());
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("chapter".into(), self.chapter.clone().into());
        m.insert("title".into(), self.title.clone().into());
        let values: Map<String, Value> = self.values.iter().cloned().collect();
        m.insert("values".into(), Value::Object(values));
        m.insert("findings".into(), self.findings.clone().into());
        let figs: Vec<Value> = self
            .figures
            .iter()
            .map(|p| {
                p.file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned())
                    .into()
            })
            .collect();
        m.insert("figures".into(), figs.into());
        serde_json::to_string_pretty(&Value::Object(m)).expect("a JSON value serializes")
    }

    /// The values as a two-column table, then the findings.
    pub fn print(&self) {
        let width = self
            .values
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        println!("\n   {:<width$}  value", "measured");
        println!("   {:-<width$}  {:-<12}", "", "");
        for (k, v) in &self.values {
            if k == "command" {
                continue;
            }
            let shown = show(v);
            if shown.chars().count() > 60 {
                println!("   {k:<width$}  (in summary.json)");
            } else {
                println!("   {k:<width$}  {shown}");
            }
        }
        if !self.findings.is_empty() {
            println!();
            for f in &self.findings {
                println!("   * {f}");
            }
        }
    }
}

/// Printed output that is also kept, with anchors, in a text file next to the
/// figures: book pages include pieces of it (`{{#include figures/ch03/trace.txt:name}}`),
/// so what a page shows is what the program printed.
#[derive(Default)]
pub struct Transcript {
    pub text: String,
}

impl Transcript {
    /// Prints a line (indented like the rest of a chapter's output) and keeps it.
    pub fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        println!("   {line}");
        self.text.push_str(&line);
        self.text.push('\n');
    }
    /// Starts a named piece (not printed).
    pub fn anchor(&mut self, name: &str) {
        self.text.push_str(&format!("ANCHOR: {name}\n"));
    }
    /// Ends a named piece.
    pub fn end(&mut self, name: &str) {
        self.text.push_str(&format!("ANCHOR_END: {name}\n"));
    }
}

/// A value for a table: numbers with 4 significant digits, strings bare.
fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() && x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) => format!("{x:.3e}"),
            Some(x) if n.is_f64() => format!("{x:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A one-line description of this machine, for captions of timed figures.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {cores} cores, {} threads, {} kernel",
        crate::threads::threads(),
        crate::kernels::selected()
    )
}

/// Runs a chapter's `run` function as a program: errors are printed and exit 1.
pub fn main_with<A>(run: fn(A) -> ChapterResult)
where
    A: clap::Parser,
{
    let args = A::parse();
    if let Err(e) = run(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
