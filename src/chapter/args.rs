//! The flags every chapter program accepts, and where its output goes.

use clap::Args;
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
        words
    }
}
