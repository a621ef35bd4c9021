//! Multi-query associative recall ([`Mqar`]): trained and scored at the
//! questions only.

use crate::autograd::{Graph, Var};
use crate::data::{Batch, Mqar, MqarSequence};
use crate::models::LanguageModel;
use crate::optim::Optimizer;
use crate::sample::argmax;
use crate::train::{History, TrainConfig, TrainError, fit};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The logits at the flat positions `queries` of `batch`, `[questions, V]`.
fn at_questions<'g, M: LanguageModel>(model: &M, g: &'g Graph, batch: &Batch, queries: &[usize]) -> Var<'g> {
    let rows = batch.batch * batch.time;
    model
        .logits(g, batch)
        .reshape([rows, model.vocab_size()])
        .embedding(queries, [queries.len()])
}

/// The target of a position that is not a question, in a training batch.
const NOT_ASKED: usize = usize::MAX;

/// Trains `model` on batches drawn (with replacement) from the fixed set
/// `train`; the loss is the cross-entropy of the answers only. Validation
/// reports the error (1 − accuracy) on `val`.
pub fn train_mqar<M: LanguageModel>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    task: &Mqar,
    (train, val): (&[MqarSequence], &[MqarSequence]),
    cfg: &TrainConfig,
) -> Result<History, TrainError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    fit(
        model,
        opt,
        cfg,
        |_step| {
            let chosen: Vec<usize> = (0..cfg.batch).map(|_| rng.random_range(0..train.len())).collect();
            let b = task.batch(train, &chosen);
            // The targets say where the questions are (and their answers), so
            // that any shard of the batch's rows knows its own.
            let mut batch = b.batch;
            batch.targets.fill(NOT_ASKED);
            for (&q, &a) in b.queries.iter().zip(&b.answers) {
                batch.targets[q] = a;
            }
            (batch, true)
        },
        |model, g, batch, _: &mut ()| {
            let (queries, answers): (Vec<usize>, Vec<usize>) = batch
                .targets
                .iter()
                .enumerate()
                .filter(|(_, a)| **a != NOT_ASKED)
                .map(|(q, &a)| (q, a))
                .unzip();
            at_questions(model, g, batch, &queries).cross_entropy(&answers)
        },
        |m| 1.0 - mqar_accuracy(m, task, val),
    )
}

/// The fraction of questions of `set` whose value the model names (argmax).
pub fn mqar_accuracy<M: LanguageModel>(model: &M, task: &Mqar, set: &[MqarSequence]) -> f64 {
    mqar_answers(model, task, set).accuracy
}

/// How a model answers the questions of `set`: its accuracy by the place of
/// the asked pair in the opening list (index 0: the first pair, read longest
/// ago), and the fraction of answers that name *some* value of the sequence,
/// right or wrong (a model that keeps the values but not which key each
/// belongs to names one of the N values, right one time in N).
pub struct MqarAnswers {
    /// The fraction of all questions answered right.
    pub accuracy: f64,
    pub by_pair: Vec<f64>,
    pub in_context: f64,
}

/// See [`MqarAnswers`].
pub fn mqar_answers<M: LanguageModel>(model: &M, task: &Mqar, set: &[MqarSequence]) -> MqarAnswers {
    let (mut right, mut asked) = (vec![0usize; task.pairs], vec![0usize; task.pairs]);
    let mut in_context = 0usize;
    for chunk in (0..set.len()).collect::<Vec<_>>().chunks(64) {
        let b = task.batch(set, chunk);
        let g = Graph::inference();
        let logits = at_questions(model, &g, &b.batch, &b.queries).value();
        let v = model.vocab_size();
        for ((row, &a), &q) in logits.data().chunks(v).zip(&b.answers).zip(&b.queries) {
            // The sequence of question q, and the pair whose key it asks.
            let tokens = &b.batch.inputs[q - q % task.len..][..task.len];
            let pair = (0..task.pairs)
                .find(|&i| tokens[2 * i] == tokens[q % task.len])
                .unwrap_or(0);
            let said = argmax(row);
            asked[pair] += 1;
            right[pair] += usize::from(said == a);
            in_context += usize::from((0..task.pairs).any(|i| tokens[2 * i + 1] == said));
        }
    }
    let total: usize = asked.iter().sum();
    MqarAnswers {
        accuracy: right.iter().sum::<usize>() as f64 / total.max(1) as f64,
        by_pair: right
            .iter()
            .zip(&asked)
            .map(|(&r, &n)| r as f64 / n.max(1) as f64)
            .collect(),
        in_context: in_context as f64 / total.max(1) as f64,
    }
}
