//! Next-token prediction on a text, scored one prediction at a time.

use crate::autograd::Graph;
use crate::data::{Reading, windows};
use crate::models::{LanguageModel, State};

/// The loss −ln P(x_{i+1} | x_0..x_i) of every prediction in `tokens` (entry i
/// scores token i + 1), as the model reads the text in windows of `context`:
/// a model that carries state in consecutive windows, its state carried across;
/// others in overlapping windows (stride context/2), each prediction taken from
/// the window that gives it the most history.
pub fn per_token_loss<M: LanguageModel>(model: &M, tokens: &[usize], context: usize) -> Vec<f64> {
    let n = tokens.len() - 1;
    let mut loss = vec![f64::NAN; n];
    let v = model.vocab_size();
    let mut state = M::State::default();
    // Scores the window of `len` inputs at `start`, keeping predictions from `first` on.
    let mut score = |start: usize, len: usize, first: usize, state: &mut M::State| {
        let batch = windows(tokens, &[start], len);
        let g = Graph::inference();
        let logits = model.logits_after(&g, &batch, state).value();
        for (i, row) in logits.data().chunks(v).enumerate().skip(first) {
            loss[start + i] = crate::sample::nll(row, batch.targets[i]);
        }
    };
    match <M::State as State>::READING {
        Reading::Streams => {
            for start in (0..n).step_by(context) {
                score(start, context.min(n - start), 0, &mut state);
            }
        }
        Reading::RandomWindows => {
            let stride = (context / 2).max(1);
            let mut start = 0;
            loop {
                let len = context.min(n - start);
                let first = if start == 0 { 0 } else { context - stride };
                score(start, len, first, &mut M::State::default());
                if start + len >= n {
                    break;
                }
                start += stride;
            }
        }
    }
    loss
}

/// The loss −ln P(target) at every position of `batch`, flat (`[B·T]`, row
/// after row), each window read from its start.
pub fn loss_at_each<M: LanguageModel>(model: &M, batch: &crate::data::Batch) -> Vec<f64> {
    let g = Graph::inference();
    let logits = model.logits(&g, batch).value();
    let v = model.vocab_size();
    logits
        .data()
        .chunks(v)
        .zip(&batch.targets)
        .map(|(row, &target)| crate::sample::nll(row, target))
        .collect()
}

/// The mean loss −ln P(target) at each position of the windows of `batch`,
/// each read from its start (`[time]`, averaged over the batch's rows): how
/// much a model gains from what it has read so far in the window.
pub fn loss_by_position<M: LanguageModel>(model: &M, batch: &crate::data::Batch) -> Vec<f64> {
    let mut sum = vec![0.0; batch.time];
    for (i, loss) in loss_at_each(model, batch).into_iter().enumerate() {
        sum[i % batch.time] += loss;
    }
    sum.iter().map(|s| s / batch.batch as f64).collect()
}
