//! Validation: a language model's mean loss on a split, deterministic.

use super::TrainConfig;
use crate::autograd::Graph;
use crate::data::{Dataset, Reading, Split, Windows};
use crate::models::{LanguageModel, State};

/// Mean cross-entropy of `model` on `split`, over `cfg.eval_batches` batches
/// read the way the model reads text: fixed random windows (the same for the
/// same config), or, for a model that carries state, consecutive windows with
/// the state carried across them, as in training.
pub fn evaluate<M: LanguageModel>(model: &M, data: &Dataset, split: Split, cfg: &TrainConfig) -> f64 {
    let tokens = data.split(split);
    let context = cfg.context.min(tokens.len() - 2);
    let reading = <M::State as State>::READING;
    let batch = match reading {
        Reading::RandomWindows => cfg.batch,
        // Fewer streams if the text is too short for `batch` of them.
        Reading::Streams => cfg.batch.min((tokens.len() - 1) / (context + 1)).max(1),
    };
    let mut windows = Windows::new(reading, tokens.len(), batch, context, cfg.seed ^ 0xe7a1);
    let mut state = M::State::default();
    let mut total = 0.0;
    for _ in 0..cfg.eval_batches {
        let (batch, restart) = windows.next_batch(tokens);
        if restart {
            state = M::State::default();
        }
        let g = Graph::inference();
        total += model
            .logits_after(&g, &batch, &mut state)
            .cross_entropy(&batch.targets)
            .item();
    }
    total / cfg.eval_batches.max(1) as f64
}
