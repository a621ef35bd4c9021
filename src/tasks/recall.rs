//! The memory-span task ([`RecallTask`]): trained and scored on the answer only.

use crate::autograd::{Graph, Var};
use crate::data::{Batch, RecallTask};
use crate::models::LanguageModel;
use crate::optim::Optimizer;
use crate::sample::argmax;
use crate::train::{History, TrainConfig, TrainError, fit};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Logits at the last position of each sequence, `[B, V]`: where the recall
/// task asks its question.
fn last_position<'g, M: LanguageModel>(model: &M, g: &'g Graph, batch: &Batch) -> Var<'g> {
    let logits = model.logits(g, batch);
    let v = model.vocab_size();
    logits
        .slice(1, batch.time - 1, batch.time)
        .reshape([batch.batch, v])
}

/// Trains `model` with `opt` on the recall task with a number of distractors
/// drawn uniformly from `ks` at every step; the loss is the cross-entropy of the
/// answer only. Validation reports recall error (1 − accuracy) at the largest k.
pub fn train_recall<M: LanguageModel>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    task: &RecallTask,
    ks: std::ops::RangeInclusive<usize>,
    cfg: &TrainConfig,
) -> Result<History, TrainError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let k_max = *ks.end();
    fit(
        model,
        opt,
        cfg,
        |_step| {
            let k = rng.random_range(ks.clone());
            // Every sequence stands alone: nothing is carried between batches.
            (task.batch(cfg.batch, k, &mut rng), true)
        },
        |model, g, batch, _: &mut ()| {
            last_position(model, g, batch).cross_entropy(&RecallTask::answers(batch))
        },
        |m| 1.0 - recall_accuracy(m, task, k_max, 256, cfg.seed ^ 0xacc),
    )
}

/// Fraction of `n` fresh sequences with `k` distractors whose symbol the model
/// recalls (argmax of its last logits).
pub fn recall_accuracy<M: LanguageModel>(model: &M, task: &RecallTask, k: usize, n: usize, seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let batch = task.batch(n, k, &mut rng);
    let g = Graph::inference();
    let logits = last_position(model, &g, &batch).value();
    let v = model.vocab_size();
    let correct = logits
        .data()
        .chunks(v)
        .zip(RecallTask::answers(&batch))
        .filter(|(row, s)| argmax(row) == *s)
        .count();
    correct as f64 / n as f64
}
