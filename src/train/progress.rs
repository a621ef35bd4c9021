//! The progress bar of a training run.

use super::{History, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `cfg.steps` steps named `cfg.label` (hidden unless `cfg.progress`;
/// indicatif also hides it when stderr is not a terminal).
pub(super) fn bar(cfg: &TrainConfig) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(cfg.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(cfg.label.clone());
    bar
}

/// Moves the bar to the end of `step` and shows the latest losses and speed.
pub(super) fn update(bar: &ProgressBar, step: usize, history: &History) {
    bar.set_position(step as u64 + 1);
    bar.set_message(format!(
        "loss {:.3}  val {:.3}  {:.0} tok/s",
        history.final_train(20),
        history.final_val(),
        history.tokens_per_second()
    ));
}
