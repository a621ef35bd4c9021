//! The progress of a training run: a bar on a terminal, and a plain line every
//! ten seconds when stderr is a file or a pipe (`2>&1 | tee log`, a CI log),
//! where a bar would stay hidden.

use super::{History, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a plain progress line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The progress shown for one run (nothing unless `cfg.progress`).
pub(super) struct Progress {
    bar: ProgressBar,
    /// (when training started, when a line was last written), without a terminal.
    plain: Option<(Instant, Instant)>,
    label: String,
    steps: usize,
}

impl Progress {
    /// A bar of `cfg.steps` steps named `cfg.label` on a terminal; plain lines
    /// otherwise.
    pub(super) fn start(cfg: &TrainConfig) -> Self {
        let (bar, plain) = if !cfg.progress {
            (ProgressBar::hidden(), None)
        } else if std::io::stderr().is_terminal() {
            (bar(cfg), None)
        } else {
            let now = Instant::now();
            (ProgressBar::hidden(), Some((now, now)))
        };
        Progress {
            bar,
            plain,
            label: cfg.label.clone(),
            steps: cfg.steps,
        }
    }

    /// After `step`: moves the bar, or writes a plain line if ten seconds have
    /// passed since the last one.
    pub(super) fn update(&mut self, step: usize, history: &History) {
        self.bar.set_position(step as u64 + 1);
        self.bar.set_message(format!(
            "loss {:.3}  val {:.3}  {:.0} tok/s",
            history.final_train(20),
            history.final_val(),
            history.tokens_per_second()
        ));
        if let Some((started, last)) = &mut self.plain
            && last.elapsed() >= PLAIN_EVERY
            && step + 1 < self.steps
        {
            *last = Instant::now();
            let elapsed = started.elapsed().as_secs_f64();
            eprintln!(
                "{}",
                plain_line(&self.label, step + 1, self.steps, history, elapsed)
            );
        }
    }

    /// Prints a warning above the bar (or as a line of its own without one).
    pub(super) fn warn(&self, message: &str) {
        if self.bar.is_hidden() {
            eprintln!("{message}");
        } else {
            self.bar.suspend(|| eprintln!("{message}"));
        }
    }

    pub(super) fn finish(self) {
        self.bar.finish_and_clear();
    }
}

fn bar(cfg: &TrainConfig) -> ProgressBar {
    let bar = ProgressBar::new(cfg.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(cfg.label.clone());
    bar
}

/// The plain progress line after `done` of `steps` steps, `elapsed` seconds
/// since training started: step, losses, speed and the time left at this pace.
pub fn plain_line(label: &str, done: usize, steps: usize, history: &History, elapsed: f64) -> String {
    let left = elapsed / done.max(1) as f64 * steps.saturating_sub(done) as f64;
    let val = match history.val.last() {
        Some(&(_, v)) => format!("{v:.3}"),
        None => "not yet".to_string(),
    };
    format!(
        "   {label}: step {done}/{steps}, loss {:.3}, validation loss {val}, {:.0} tokens/s, about {} left",
        history.final_train(20),
        history.tokens_per_second(),
        duration(left)
    )
}

/// "45 s", "3 min 20 s", "1 h 05 min".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}
