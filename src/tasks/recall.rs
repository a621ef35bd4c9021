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

/// How [`train_recall_curriculum`] widens the gaps it trains on.
#[derive(Clone, Copy, Debug)]
pub struct Curriculum {
    /// The longest gap trained on at first.
    pub start: usize,
    /// The longest gap the curriculum reaches.
    pub end: usize,
    /// Recall at the current longest gap that moves the curriculum on.
    pub pass: f64,
    /// Sequences of validation drawn at each check (every `eval_every` steps).
    pub probe: usize,
}

/// The memory span trained as a curriculum: at each step the gap k is drawn
/// uniformly from 1 up to the current reach, which doubles (up to
/// `curriculum.end`) each time the model recalls at least `pass` of fresh
/// validation sequences at that reach. Short gaps stay in the mix, so what is
/// learnt first is not forgotten; long gaps come only once short ones work,
/// when a gradient through many steps has something to refine. (Trained on
/// k from 1 to 64 from the start, a tanh RNN stays near chance at every k:
/// nearly all its batches ask for a reach its gradients cannot yet span.)
///
/// Returns the history and the reach at every check, `(step, reach)`.
pub fn train_recall_curriculum<M: LanguageModel>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    task: &RecallTask,
    curriculum: Curriculum,
    cfg: &TrainConfig,
) -> Result<(History, Vec<(usize, usize)>), TrainError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let reach = std::cell::Cell::new(curriculum.start.min(curriculum.end));
    let mut reaches = Vec::new();
    let mut checks = 0u64;
    let history = fit(
        model,
        opt,
        cfg,
        |_step| {
            let k = rng.random_range(1..=reach.get());
            (task.batch(cfg.batch, k, &mut rng), true)
        },
        |model, g, batch, _: &mut ()| {
            last_position(model, g, batch).cross_entropy(&RecallTask::answers(batch))
        },
        |m| {
            // Validation sequences: a stream of their own, fresh at every check.
            checks += 1;
            let seed = VALIDATION_SEED ^ cfg.seed.wrapping_mul(0x9e37_79b9) ^ checks;
            let r = reach.get();
            let accuracy = recall_accuracy(m, task, r, curriculum.probe, seed);
            reaches.push(r);
            if accuracy >= curriculum.pass && r < curriculum.end {
                reach.set((2 * r).min(curriculum.end));
            }
            1.0 - accuracy
        },
    )?;
    // One reach per validation, in order: pair each with its step.
    let reaches = history
        .val
        .iter()
        .zip(reaches)
        .map(|(&(step, _), r)| (step, r))
        .collect();
    Ok((history, reaches))
}

/// Seeds of the three streams of recall sequences: training uses the run's
/// own seed, validation and test streams are derived from these, so that the
/// three never share a generator.
pub const VALIDATION_SEED: u64 = 0x7a11_da7e;
pub const TEST_SEED: u64 = 0x7e57_5eed;

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
