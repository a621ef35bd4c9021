//! Repeated random tokens ([`Repeats`]): trained on every next token, scored
//! on the copy against the block it repeats.

use crate::data::{RepeatBatch, Repeats};
use crate::models::LanguageModel;
use crate::optim::Optimizer;
use crate::train::{History, TrainConfig, TrainError, fit};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The mean loss (nats) on the copy and on the block it repeats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RepeatLoss {
    /// Over the positions the earlier occurrence determines.
    pub repeat: f64,
    /// Over the block's fresh tokens.
    pub fresh: f64,
}

impl RepeatLoss {
    /// Olsson et al.'s in-context score, in the form this task allows: loss
    /// late (on the copy) minus loss early (on the block). Negative: the model
    /// gains from what it has read.
    pub fn in_context(&self) -> f64 {
        self.repeat - self.fresh
    }
}

/// Scores `model` on `test`: the mean over all the copy positions of all rows
/// (pooled, so a row with a longer block counts more: a mean per token), and
/// the same over the block's positions.
pub fn repeat_loss<M: LanguageModel>(model: &M, test: &RepeatBatch) -> RepeatLoss {
    let losses = super::text::loss_at_each(model, &test.batch);
    let time = test.batch.time;
    let (mut repeat, mut fresh) = ((0.0, 0usize), (0.0, 0usize));
    for row in 0..test.batch.batch {
        let at = &losses[row * time..(row + 1) * time];
        for (sum, range) in [
            (&mut repeat, test.repeat_positions(row)),
            (&mut fresh, test.fresh_positions(row)),
        ] {
            sum.0 += at[range.clone()].iter().sum::<f64>();
            sum.1 += range.len();
        }
    }
    RepeatLoss {
        repeat: repeat.0 / repeat.1.max(1) as f64,
        fresh: fresh.0 / fresh.1.max(1) as f64,
    }
}

/// Trains `model` on fresh sequences of `task` (a new batch every step, from
/// `cfg.seed`), the loss on every next token. Validation reports the loss on
/// the copy of 256 sequences from `val_seed`.
pub fn train_repeats<M: LanguageModel>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    task: &Repeats,
    cfg: &TrainConfig,
    val_seed: u64,
) -> Result<History, TrainError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let val = task.sample(256, val_seed);
    fit(
        model,
        opt,
        cfg,
        |_| (task.batch(cfg.batch, &mut rng).batch, true),
        |m, g, b, _: &mut ()| m.logits(g, b).cross_entropy(&b.targets),
        |m| repeat_loss(m, &val).repeat,
    )
}
