//! The flags every chapter program accepts, and where its output goes.

use clap::Args;
use std::path::{Path, PathBuf};

/// Flags every chapter accepts.
#[derive(Args, Clone, Debug, Default)]
pub struct CommonArgs {
    /// Smoke run with tiny settings (seconds for one chapter, about a minute for
    /// the tour); the tests use it. Figures go to a temporary folder unless
    /// --out is given.
    #[arg(long)]
    pub quick: bool,
    /// Training steps (each chapter has its own default).
    #[arg(long, value_parser = positive_usize)]
    pub steps: Option<usize>,
    /// Seed for data, initialisation and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for matrix products (default: all cores).
    #[arg(long, value_parser = positive_usize)]
    pub threads: Option<usize>,
    /// Train on this UTF-8 text file instead of the built-in corpus.
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// Where figures and summary.json go (default: book/src/figures/chNN/;
    /// with --corpus, target/shortmem/chNN/<corpus name>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Record the wall-clock values (tokens/s, ms per token) in measured.json,
    /// which the book quotes, and redraw the figures that show them; without
    /// it they go to timings.json (ignored by git) and those figures are left as
    /// they are.
    #[arg(long)]
    pub timings: bool,
}

/// Where a chapter writes its figures: `--out DIR` if given; a temporary folder
/// for `--quick`; `book/src/figures/chNN/` for the book's own runs; and, so that
/// a run on your own text neither overwrites the book's figures nor adds files
/// to the repository, `target/shortmem/chNN/<corpus file name>/` with
/// `--corpus` (the book's own runs on other texts give `--out`).
pub fn output_dir(id: &str, args: &CommonArgs) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match (&args.out, args.quick, &args.corpus) {
        (Some(dir), _, _) => dir.clone(),
        (None, true, _) => std::env::temp_dir().join(format!("shortmem-quick-{id}")),
        (None, false, Some(corpus)) => root.join("target/shortmem").join(id).join(
            corpus
                .file_stem()
                .map_or("corpus".into(), |s| s.to_string_lossy().into_owned()),
        ),
        (None, false, None) => root.join("book/src/figures").join(id),
    }
}

impl CommonArgs {
    /// These flags as command-line words, with figures in `out/id` when an
    /// output folder is given: how the tour hands its flags to each chapter.
    pub fn to_words(&self, id: &str) -> Vec<String> {
        let mut words = vec![id.to_string()];
        if self.quick {
            words.push("--quick".into());
        }
        if let Some(steps) = self.steps {
            words.extend(["--steps".into(), steps.to_string()]);
        }
        words.extend(["--seed".into(), self.seed.to_string()]);
        if let Some(threads) = self.threads {
            words.extend(["--threads".into(), threads.to_string()]);
        }
        if let Some(corpus) = &self.corpus {
            words.extend(["--corpus".into(), corpus.display().to_string()]);
        }
        if let Some(out) = &self.out {
            words.extend(["--out".into(), out.join(id).display().to_string()]);
        }
        if self.timings {
            words.push("--timings".into());
        }
        words
    }
}

// The value parsers of the chapters' flags: each bad value is a usage error
// (exit status 2) naming the flag, the value and what is allowed.

/// A whole number of at least 1.
pub fn positive_usize(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number of at least 1".into()),
    }
}

/// A finite number greater than 0.
pub fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err("expected a finite number greater than 0".into()),
    }
}

/// A finite number of at least 0.
pub fn non_negative_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err("expected a finite number of at least 0".into()),
    }
}

/// A number in [0, 1): a decay rate such as AdamW's β₂.
pub fn decay_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..1.0).contains(&x) => Ok(x),
        _ => Err("expected a number from 0 up to (not including) 1".into()),
    }
}

/// Text of at least one character.
pub fn non_empty(s: &str) -> Result<String, String> {
    if s.is_empty() {
        Err("expected at least one character".into())
    } else {
        Ok(s.to_string())
    }
}

/// A usage error about a combination of flags (exit status 2, with the usage):
/// `command` is the program's clap command, `message` names the flags.
pub fn usage_error(mut command: clap::Command, message: impl std::fmt::Display) -> clap::Error {
    command.error(clap::error::ErrorKind::ArgumentConflict, message)
}

/// The memory this machine has available, in bytes (`MemAvailable` in
/// `/proc/meminfo`), or `None` where that cannot be read.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// `Err` with a message naming `flags` if a run that needs about `bytes` of
/// memory would not fit in what the machine has available (checked before
/// anything is allocated, so that a typo such as `--embed 100000` is a usage
/// error rather than a crash minutes later).
pub fn check_memory(flags: &str, bytes: f64) -> Result<(), String> {
    let Some(available) = available_memory() else {
        return Ok(());
    };
    if bytes <= available as f64 {
        return Ok(());
    }
    Err(format!(
        "{flags} would need about {:.1} GiB of memory, and this machine has {:.1} GiB available",
        bytes / (1u64 << 30) as f64,
        available as f64 / (1u64 << 30) as f64
    ))
}

/// The command line of `cargo run --release --example checkpoint`: where the
/// checkpoint goes and which prompt's logits are printed (parsed here, in the
/// library, so that the tests can check it).
#[derive(clap::Parser, Clone, Debug, PartialEq)]
#[command(
    name = "checkpoint",
    about = "Trains a small §5 Transformer for a few seconds, saves it as a safetensors checkpoint, loads it \
             back and prints the logits of the character after PROMPT (python tools/load_in_pytorch.py PATH \
             PROMPT prints the same from PyTorch)"
)]
pub struct CheckpointArgs {
    /// The checkpoint file to write (its folder is made if need be).
    #[arg(default_value = "target/checkpoint/lm.safetensors", value_name = "PATH")]
    pub path: PathBuf,
    /// The text whose next character's logits are printed.
    #[arg(default_value = "Tom went to the", value_parser = non_empty)]
    pub prompt: String,
    /// Training steps.
    #[arg(long, default_value_t = 300, value_parser = positive_usize)]
    pub steps: usize,
}

impl CheckpointArgs {
    /// Parses `words` (the program's name first): `--help` and bad flags are
    /// clap's errors (which print the help or the usage), and a `PATH` that is
    /// a folder is refused before any training.
    pub fn parse_from_words<I, T>(words: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, Parser};
        let args = Self::try_parse_from(words)?;
        if args.path.is_dir() {
            let message = format!("PATH {} is a folder: give a file name", args.path.display());
            return Err(usage_error(Self::command(), message));
        }
        Ok(args)
    }
}
