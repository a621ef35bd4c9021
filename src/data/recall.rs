//! The memory-span task: see a symbol, then k distractors, then say the symbol.
//!
//! `s d₁ d₂ … d_k ?` → `s`. Nothing but memory can answer: the distractors are
//! random and the query mark is always the same. Accuracy against k measures
//! how far back a model can reach. The RNN chapter and the Transformer chapter
//! run this very task.

use super::Batch;
use rand::RngExt;
use rand::rngs::StdRng;

/// Vocabulary: `symbols` ids to remember, then `distractors` filler ids, then
/// the query mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecallTask {
    pub symbols: usize,
    pub distractors: usize,
}

impl Default for RecallTask {
    fn default() -> Self {
        RecallTask {
            symbols: 8,
            distractors: 8,
        }
    }
}

impl RecallTask {
    pub fn vocab(&self) -> usize {
        self.symbols + self.distractors + 1
    }

    /// The id of the query mark `?`.
    pub fn query(&self) -> usize {
        self.symbols + self.distractors
    }

    /// `batch` sequences of length k + 2 (symbol, k distractors, query). The
    /// batch's `targets` repeat each input shifted by one, except that the last
    /// position's target is the symbol; [`RecallTask::answers`] gives just those.
    pub fn batch(&self, batch: usize, k: usize, rng: &mut StdRng) -> Batch {
        let time = k + 2;
        let mut inputs = Vec::with_capacity(batch * time);
        let mut targets = Vec::with_capacity(batch * time);
        for _ in 0..batch {
            let s = rng.random_range(0..self.symbols);
            let start = inputs.len();
            inputs.push(s);
            for _ in 0..k {
                inputs.push(self.symbols + rng.random_range(0..self.distractors));
            }
            inputs.push(self.query());
            targets.extend_from_slice(&inputs[start + 1..]);
            targets.push(s);
        }
        Batch {
            inputs,
            targets,
            batch,
            time,
        }
    }

    /// The symbol each sequence must recall (the target at its last position).
    pub fn answers(batch: &Batch) -> Vec<usize> {
        batch
            .targets
            .chunks(batch.time)
            .map(|row| row[batch.time - 1])
            .collect()
    }
}
