//! The shell every chapter program runs in: its flags, where its figures go,
//! the caption that names the command, its sections, and its summary (a table
//! on screen and a `summary.json` next to the figures).
//!
//! A chapter reads like a notebook: a list of named sections, each computing one
//! thing, drawing its figure and stating its finding. Everything else (printing,
//! recording, captions, file names) is here.

mod args;
mod summary;

pub use args::{
    CheckpointArgs, CommonArgs, available_memory, check_memory, decay_rate, non_empty, non_negative_f64,
    output_dir, positive_f64, positive_usize, usage_error,
};
pub use summary::{Summary, Timings, Transcript};

use crate::data::{self, Corpus, Dataset};
use crate::plot::{self, Figure, PlotError, Series};
use crate::train::History;
use std::error::Error;
use std::path::PathBuf;

/// The result of a chapter run, or the reason it failed.
pub type ChapterResult = Result<Summary, Box<dyn Error>>;

/// A chapter program: `cargo run --release --bin chNN`, or a stop of the tour.
pub struct Program {
    pub id: &'static str,
    /// Runs the chapter on a command line (the program's name first).
    pub run: fn(Vec<String>) -> ChapterResult,
}

/// The environment variables the engine reads (`SHORTMEM_KERNEL`,
/// `SHORTMEM_THREADS`), checked before any work; an error names the variable
/// and its value.
pub fn check_environment() -> Result<(), String> {
    crate::kernels::try_selected()?;
    let threads = crate::threads::from_env()?;
    let asked = std::env::var("SHORTMEM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(asked) = asked.filter(|&n| n > threads) {
        println!(
            "   (SHORTMEM_THREADS={asked}: this machine has {threads} cores, so {threads} threads are used)"
        );
    }
    Ok(())
}

/// Runs a program on this process's command line: a bad environment variable
/// or a usage error exits with status 2 (with the usage, for the latter), any
/// other error is printed and exits with 1.
pub fn main(program: &Program) {
    if let Err(e) = check_environment() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    if let Err(e) = (program.run)(std::env::args().collect()) {
        if let Some(usage) = e.downcast_ref::<clap::Error>() {
            usage.exit();
        }
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The sizes of a run, chosen once: the book's full run, or a smoke test's.
pub fn sizes<T>(args: &CommonArgs, full: T, quick: T) -> T {
    if args.quick { quick } else { full }
}

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
    /// Sets up a run: applies `--threads`, picks the output folder and starts
    /// the summary. `extra` are the chapter's own flags that differ from their
    /// defaults, for the reproducing command.
    pub fn start(
        id: &'static str,
        title: &'static str,
        args: CommonArgs,
        extra: &[String],
    ) -> Result<Self, Box<dyn Error>> {
        if let Some(t) = args.threads {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if t > cores {
                println!("   (--threads {t}: this machine has {cores} cores, so {cores} threads are used)");
            }
            crate::threads::set_threads(t.min(cores));
        }
        let out = output_dir(id, &args);
        check_writable(&out, "figures")?;
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

    /// A part of this run whose figures and summary go to a folder of their
    /// own, `<out>/<folder>`: results that only some machines can make (they
    /// need a file from outside the course), kept apart so that a run without
    /// it leaves the main summary and figures as they are. Its `finish` writes
    /// the part's summary; the main one knows nothing of it.
    pub fn part(&self, folder: &str, title: &'static str) -> Chapter {
        Chapter {
            id: self.id,
            title,
            args: self.args.clone(),
            command: self.command.clone(),
            out: self.out.join(folder),
            summary: Summary::new(self.id, title),
        }
    }

    /// The chapter's seed (`--seed`).
    pub fn seed(&self) -> u64 {
        self.args.seed
    }

    /// `--steps` if given, else the chapter's own number.
    pub fn steps(&self, default: usize) -> usize {
        self.args.steps.unwrap_or(default)
    }

    /// Starts a named section of the run (printed as a heading).
    pub fn section(&self, title: &str) {
        println!("   -- {title}\n");
    }

    /// Records a named value (a number, a string, a list…) in the summary.
    pub fn record(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.summary.record(key, value);
    }

    /// Records one sentence of what the chapter shows.
    pub fn finding(&mut self, text: impl Into<String>) {
        self.summary.finding(text);
    }

    /// Records a wall-clock value: in `timings.json`, or with `--timings` in
    /// `measured.json` (never in `summary.json`, which a rerun must not change).
    pub fn record_time(&mut self, key: &str, value: impl Into<serde_json::Value>) {
        self.summary.record_time(key, value);
    }

    /// Records a sentence that quotes a wall-clock value (kept with the timings).
    pub fn timed_finding(&mut self, text: impl Into<String>) {
        self.summary.timed_finding(text);
    }

    /// Whether this run records its timings for the book (`--timings`).
    pub fn records_timings(&self) -> bool {
        self.args.timings
    }

    /// Records a training run: its final validation loss and speed, as
    /// `{key} val nats/char` and `{key} tokens/s` (a timing), and prints them.
    pub fn record_training(&mut self, key: &str, history: &History, steps: usize) {
        println!(
            "   {key}: validation loss {:.3} nats/char after {steps} steps, {:.0} tokens/s",
            history.final_val(),
            history.tokens_per_second()
        );
        self.record(&format!("{key} val nats/char"), history.final_val());
        self.record_time(&format!("{key} tokens/s"), history.tokens_per_second());
    }

    /// Path of an output file in the output folder (created now, at the first
    /// file, so that a run that fails before writing leaves nothing behind);
    /// also recorded in the summary.
    pub fn figure(&mut self, name: &str) -> PathBuf {
        // (Checked at the start: a failure now is reported by the write itself.)
        let _ = std::fs::create_dir_all(&self.out);
        let p = self.out.join(name);
        self.summary.figures.push(p.clone());
        p
    }

    /// A figure's frame, captioned with the command that makes it.
    pub fn frame(&self, title: &str, x_label: &str, y_label: &str) -> Figure {
        Figure::new(title, x_label, y_label, &self.caption())
    }

    /// Path of a figure that draws timings, or `None` unless `--timings` asks
    /// for it: such a figure shows the measurement in `measured.json`, so it is
    /// redrawn only when that is.
    pub fn timed_figure(&mut self, name: &str) -> Option<PathBuf> {
        if !self.args.timings {
            return None;
        }
        let _ = std::fs::create_dir_all(&self.out);
        let p = self.out.join(name);
        self.summary.timings.figures.push(p.clone());
        Some(p)
    }

    /// Draws line series that show timings as `name`, with `--timings` only.
    pub fn timed_lines(&mut self, name: &str, fig: &Figure, series: &[Series]) -> Result<(), PlotError> {
        match self.timed_figure(name) {
            Some(path) => plot::lines(path, fig, series),
            None => Ok(()),
        }
    }

    /// Draws bars that show timings as `name`, with `--timings` only.
    pub fn timed_bars(
        &mut self,
        name: &str,
        fig: &Figure,
        labels: &[String],
        values: &[f64],
    ) -> Result<(), PlotError> {
        match self.timed_figure(name) {
            Some(path) => plot::bars(path, fig, labels, values),
            None => Ok(()),
        }
    }

    /// Writes a transcript of timings as `name`, with `--timings` only.
    pub fn write_timed_transcript(&mut self, name: &str, transcript: &Transcript) -> std::io::Result<()> {
        match self.timed_figure(name) {
            Some(path) => std::fs::write(path, &transcript.text),
            None => Ok(()),
        }
    }

    /// A frame for a figure that shows timings: the caption names the machine too.
    pub fn timed_frame(&self, title: &str, x_label: &str, y_label: &str) -> Figure {
        Figure::new(title, x_label, y_label, &self.caption_timed())
    }

    /// Draws line series as `name` in the output folder.
    pub fn lines(&mut self, name: &str, fig: &Figure, series: &[Series]) -> Result<(), PlotError> {
        plot::lines(self.figure(name), fig, series)
    }

    /// Draws one bar per label as `name`.
    pub fn bars(
        &mut self,
        name: &str,
        fig: &Figure,
        labels: &[String],
        values: &[f64],
    ) -> Result<(), PlotError> {
        plot::bars(self.figure(name), fig, labels, values)
    }

    /// Draws a matrix as coloured cells as `name` (rows top to bottom).
    pub fn heatmap(
        &mut self,
        name: &str,
        fig: &Figure,
        values: &[Vec<f64>],
        labels: (&[String], &[String]),
        range: (f64, f64),
    ) -> Result<(), PlotError> {
        plot::heatmap(self.figure(name), fig, values, labels.0, labels.1, range)
    }

    /// Writes a transcript the book includes pieces of as `name`.
    pub fn write_transcript(&mut self, name: &str, transcript: &Transcript) -> std::io::Result<()> {
        std::fs::write(self.figure(name), &transcript.text)
    }

    /// The caption line of a figure: the command that made it.
    pub fn caption(&self) -> String {
        format!("made by: {}", self.command)
    }

    /// The caption for a figure that shows timings: the command and the machine.
    pub fn caption_timed(&self) -> String {
        format!("made by: {}  ·  on {}", self.timed_command(), machine())
    }

    /// The command that records this run's timings (`--timings` added).
    pub fn timed_command(&self) -> String {
        if self.command.contains(" -- ") {
            format!("{} --timings", self.command)
        } else {
            format!("{} -- --timings", self.command)
        }
    }

    /// The text to train on: `--corpus FILE` if given, else the built-in corpus
    /// (with its story answers marked).
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
                Ok((BUILT_IN.into(), corpus.text.clone(), Some(corpus)))
            }
        }
    }

    /// Tokenized text with the 90/10 split, its name, and the built-in corpus
    /// if that is what it is.
    pub fn dataset(&self) -> Result<(String, Dataset, Option<Corpus>), Box<dyn Error>> {
        let (name, text, corpus) = self.text()?;
        Ok((name, Dataset::from_text(&text), corpus))
    }

    /// Checks that the text of `data` (named `name`) is long enough for this
    /// chapter: `train` tokens in its training split and `val` in its
    /// validation split, for the reason `why`; the error says how long it must be.
    pub fn require_text(
        &self,
        name: &str,
        data: &Dataset,
        (train, val): (usize, usize),
        why: &str,
    ) -> Result<(), String> {
        if data.train.len() >= train && data.val.len() >= val {
            return Ok(());
        }
        let have = data.train.len() + data.val.len();
        Err(format!(
            "{name} has {have} characters, but {} needs at least {} ({why})",
            self.id,
            Dataset::chars_needed(train, val)
        ))
    }

    /// Prints the findings and writes `summary.json`, and the timings to
    /// `timings.json` (or `measured.json` with `--timings`); returns the summary.
    pub fn finish(mut self) -> ChapterResult {
        self.summary.record("command", self.command.clone());
        let timings =
            (!self.summary.timings.is_empty()).then_some(TIMINGS_FILE[usize::from(self.args.timings)]);
        self.summary.print();
        std::fs::create_dir_all(&self.out)
            .map_err(|e| format!("cannot create output folder {}: {e}", self.out.display()))?;
        let write = |name: &str, text: String| {
            let path = self.out.join(name);
            std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        };
        write("summary.json", self.summary.to_json())?;
        if let Some(file) = timings {
            write(file, self.summary.timings_json(&self.timed_command(), &machine()))?;
        }
        let n = self.summary.values.len() + self.summary.timings.values.len() - 1;
        println!(
            "\n   figures and {n} values ({}) in {}",
            match timings {
                Some(file) => format!("summary.json, {file}"),
                None => "summary.json".to_string(),
            },
            self.out.display()
        );
        Ok(self.summary)
    }
}

/// Where a run's wall-clock values go: `timings.json` (ignored by git), or
/// `measured.json` with `--timings` (kept, and quoted by the book).
pub const TIMINGS_FILE: [&str; 2] = ["timings.json", "measured.json"];

/// Checks, before any work and without creating anything, that `dir` is a
/// folder or could be made one, for writing `what` in it: its nearest existing
/// ancestor is a folder we can write in.
pub fn check_writable(dir: &std::path::Path, what: &str) -> Result<(), String> {
    let fail = |why: String| Err(format!("cannot write {what} to {}: {why}", dir.display()));
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = std::path::Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return fail(format!("{} is not a folder", existing.display()));
    }
    // Making a file and removing it is the one test every file system answers.
    // (Made only if no file has its name, so no file of anyone's is touched.)
    for n in 0.. {
        let probe = existing.join(format!(".shortmem-write-test-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 100 => continue,
            Err(e) => return fail(format!("{} is not writable ({e})", existing.display())),
        }
    }
    unreachable!("the loop returns")
}

/// The corpus named by `name` (as [`Chapter::text`] gives it) in a sentence
/// or a title: "the built-in corpus", but a file by its name alone ("zh.txt").
pub fn the_corpus(name: &str) -> String {
    if name == BUILT_IN {
        format!("the {name}")
    } else {
        name.to_string()
    }
}

/// The name of the built-in corpus.
const BUILT_IN: &str = "built-in corpus";

/// The mean of `xs` and their sample standard deviation (0 for fewer than
/// two values): how a result over several seeds is reported.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let sd = if xs.len() < 2 {
        0.0
    } else {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    (mean, sd)
}

/// The mean of `xs` and the half-width of its 95 % confidence interval
/// (Student's t with n − 1 degrees of freedom: mean ± t · sd / √n); the
/// half-width is `None` for fewer than two values.
pub fn mean_interval95(xs: &[f64]) -> (f64, Option<f64>) {
    // t_{0.975, df} for df = 1 … 30; past 30 the normal's 1.96 (within 4 %).
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    let (mean, sd) = mean_sd(xs);
    let n = xs.len();
    let t = match n {
        0 | 1 => return (mean, None),
        2..=31 => T[n - 2],
        _ => 1.96,
    };
    (mean, Some(t * sd / (n as f64).sqrt()))
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
