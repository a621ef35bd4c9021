//! Training: one loop for every model and objective ([`fit`]), and the
//! next-token objective of a language model on a text ([`train`]).
//!
//! | file | what it holds |
//! |---|---|
//! | `fit.rs` | the loop: batch, gradients, a stop on non-finite numbers, clipping, the optimizer's step, validation |
//! | `shards.rs` | data parallelism: a batch split into one shard per thread, the gradients summed |
//! | `eval.rs` | validation loss, on the same windows every time |
//! | `progress.rs` | the progress bar, or plain lines when stderr is not a terminal |
//!
//! The optimizer is the caller's: anything that implements
//! [`crate::optim::Optimizer`] (the chapters use
//! [`AdamW::nanogpt`](crate::optim::AdamW::nanogpt)). Its learning rate is the
//! schedule's: the loop sets it before every step, so the rate an optimizer
//! was built with is replaced from the first step on.

mod eval;
mod fit;
mod progress;
mod shards;

pub use eval::evaluate;
pub use fit::fit;
pub use progress::{duration, plain_line};
pub use shards::{batch_gradients, map_shards};

use crate::autograd::Module;
use crate::data::{Dataset, Split, Windows};
use crate::models::{LanguageModel, State};
use crate::optim::{Optimizer, Schedule};
use crate::tensor::Tensor;
use std::fmt;

/// Settings of one training run (the optimizer's own are the optimizer's).
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    /// Tokens per window (T).
    pub context: usize,
    pub schedule: Schedule,
    /// Clip the global gradient norm to this (None: no clipping).
    pub clip: Option<f64>,
    /// Validate every this many steps (and after the last step).
    pub eval_every: usize,
    /// Number of validation windows (`batch` each), the same ones every time.
    pub eval_batches: usize,
    pub seed: u64,
    /// Show the progress: a bar on a terminal, a plain line every ten seconds
    /// when stderr is a file or a pipe.
    pub progress: bool,
    /// Name shown on the progress bar.
    pub label: String,
    /// Split each batch into this many shards trained in parallel, one per
    /// thread (None: one per thread, see [`crate::threads::threads`]).
    pub shards: Option<usize>,
    /// Keep a copy of the weights at the best validation loss so far
    /// ([`History::best`]).
    pub keep_best: bool,
    /// Warn when the validation loss has risen for a while ([`overfitting`]).
    /// Off by default: [`train`], whose validation is the loss on held-out
    /// text, turns it on; the memory tasks validate error rates or fresh
    /// random sequences, where a rise means something else.
    pub warn_overfitting: bool,
}

impl TrainConfig {
    /// Sensible defaults around a step count and peak learning rate: 5 % warm-up,
    /// cosine decay to lr/10, clipping at 1.0, 20 validations.
    pub fn new(steps: usize, batch: usize, context: usize, lr: f64) -> Self {
        TrainConfig {
            steps,
            batch,
            context,
            schedule: Schedule::WarmupCosine {
                max_lr: lr,
                min_lr: lr / 10.0,
                warmup: steps / 20,
                total: steps,
            },
            clip: Some(1.0),
            eval_every: (steps / 20).max(1),
            eval_batches: 20,
            seed: 0,
            progress: true,
            label: "train".to_string(),
            shards: None,
            keep_best: false,
            warn_overfitting: false,
        }
    }
}

/// What happened during training.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// (step, training loss of that step's batch).
    pub train: Vec<(usize, f64)>,
    /// (step, mean validation loss).
    pub val: Vec<(usize, f64)>,
    /// Wall-clock seconds spent in training steps (validation excluded).
    pub seconds: f64,
    /// Seconds of each step.
    pub step_seconds: Vec<f64>,
    /// Tokens processed by training steps.
    pub tokens: usize,
    /// The weights at the best validation loss, with [`TrainConfig::keep_best`].
    pub best: Option<Snapshot>,
}

/// A model's weights at one validation: what `--save` keeps by default.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The step after which it was validated.
    pub step: usize,
    pub val: f64,
    /// Each parameter's value, in the model's order.
    pub values: Vec<Tensor>,
}

impl Snapshot {
    /// The weights of `model` now, validated at `step` with loss `val`.
    pub fn of(model: &impl Module<f32>, step: usize, val: f64) -> Self {
        let values = model.params().iter().map(|p| p.value.clone()).collect();
        Snapshot { step, val, values }
    }

    /// Puts these weights into `model` (a model of the same shape), or says
    /// which parameter does not fit.
    pub fn restore(&self, model: &mut impl Module<f32>) -> Result<(), String> {
        let mut params = model.params_mut();
        if params.len() != self.values.len() {
            return Err(format!(
                "the snapshot has {} parameters, the model {}",
                self.values.len(),
                params.len()
            ));
        }
        for (p, v) in params.iter_mut().zip(&self.values) {
            if p.value.dims() != v.dims() {
                return Err(format!(
                    "{} is {:?} in the model, {:?} in the snapshot",
                    p.name,
                    p.value.dims(),
                    v.dims()
                ));
            }
            p.value = v.clone();
        }
        Ok(())
    }
}

/// The validation loss has risen for a while: from `best` at `best_step` to
/// `last` at `last_step`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overfitting {
    pub best_step: usize,
    pub best: f64,
    pub last_step: usize,
    pub last: f64,
    /// Validations since the best one.
    pub since: usize,
}

/// Whether a run shows a model learning its training text by heart: its
/// validation losses `val` (step, loss) had their lowest at least `patience`
/// validations before the last, the last is more than 1 % above it (so that
/// the wobble of a loss that has levelled off is not taken for a rise), and
/// the training losses `train` (step from 0, loss; the mean of the 20 steps
/// before a validation) still fell meanwhile: a run that diverges, both
/// losses rising, is not overfitting.
pub fn overfitting(val: &[(usize, f64)], train: &[(usize, f64)], patience: usize) -> Option<Overfitting> {
    let (at, &(best_step, best)) = val
        .iter()
        .enumerate()
        .filter(|(_, v)| v.1.is_finite())
        .min_by(|a, b| a.1.1.total_cmp(&b.1.1))?;
    let &(last_step, last) = val.last()?;
    let since = val.len() - 1 - at;
    let train_before = |step: usize| {
        let window: Vec<f64> = train
            .iter()
            .filter(|&&(s, _)| s < step && s + 20 >= step)
            .map(|&(_, l)| l)
            .collect();
        window.iter().sum::<f64>() / window.len().max(1) as f64
    };
    let still_learning = train_before(last_step) < train_before(best_step);
    (since >= patience && last > best * 1.01 && still_learning).then_some(Overfitting {
        best_step,
        best,
        last_step,
        last,
        since,
    })
}

/// Validations in a row without a new best before [`fit`] warns of overfitting.
pub const PATIENCE: usize = 3;

impl History {
    pub fn tokens_per_second(&self) -> f64 {
        self.tokens as f64 / self.seconds.max(1e-9)
    }

    /// Median seconds per step, skipping the first `warmup` steps.
    pub fn median_step_seconds(&self, warmup: usize) -> f64 {
        let mut t: Vec<f64> = self.step_seconds.iter().skip(warmup).copied().collect();
        if t.is_empty() {
            return f64::NAN;
        }
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }

    pub fn final_val(&self) -> f64 {
        self.val.last().map_or(f64::NAN, |v| v.1)
    }

    /// Mean training loss over the last `n` steps (one batch is noisy).
    pub fn final_train(&self, n: usize) -> f64 {
        let tail = &self.train[self.train.len().saturating_sub(n)..];
        tail.iter().map(|t| t.1).sum::<f64>() / tail.len().max(1) as f64
    }

    /// The validation losses as plot points.
    pub fn val_points(&self) -> Vec<(f64, f64)> {
        self.val.iter().map(|&(s, l)| (s as f64, l)).collect()
    }
}

/// Training stopped because a number went bad.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    NonFiniteLoss { step: usize, loss: f64 },
    NonFiniteGradient { step: usize, param: String },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFiniteLoss { step, loss } => write!(
                f,
                "training stopped at step {step}: the loss is {loss}; try a lower learning rate or clipping"
            ),
            TrainError::NonFiniteGradient { step, param } => write!(
                f,
                "training stopped at step {step}: the gradient of {param} is not finite; try a lower learning rate or clipping"
            ),
        }
    }
}

impl std::error::Error for TrainError {}

/// Trains a language model on `data` with `opt`: next-token cross-entropy on
/// windows of the training text, read as the model reads text (random windows,
/// or consecutive ones with the state carried for a recurrent model),
/// validated on the validation text; a warning says when the validation loss
/// has risen for a while ([`overfitting`]).
pub fn train<M: LanguageModel>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    data: &Dataset,
    cfg: &TrainConfig,
) -> Result<History, TrainError> {
    let reading = <M::State as State>::READING;
    let mut windows = Windows::new(reading, data.train.len(), cfg.batch, cfg.context, cfg.seed);
    let cfg = &TrainConfig {
        warn_overfitting: true,
        ..cfg.clone()
    };
    fit(
        model,
        opt,
        cfg,
        |_step| windows.next_batch(&data.train),
        |model, g, batch, state| model.logits_after(g, batch, state).cross_entropy(&batch.targets),
        |m| evaluate(m, data, Split::Val, cfg),
    )
}
