//! Repeated random tokens, the task on which induction heads show themselves
//! (Olsson et al. 2022): `half` tokens drawn uniformly, then the same `half`
//! tokens again. The first half cannot be predicted at all (each token is a
//! fresh draw, ln V nats); in the second half every token has been seen once,
//! followed by the one that comes next, so a model that finds the earlier
//! occurrence of its current token and copies what followed it predicts it
//! exactly.

use super::Batch;
use rand::RngExt;
use rand::rngs::StdRng;

/// Sequences of `2·half` tokens from a vocabulary of `vocab`, the second half
/// a copy of the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeats {
    pub vocab: usize,
    pub half: usize,
}

impl Repeats {
    pub fn time(&self) -> usize {
        2 * self.half
    }

    /// `batch` fresh sequences. Targets are the next token; the last position's
    /// target is the first token, where the repetition would go on.
    pub fn batch(&self, batch: usize, rng: &mut StdRng) -> Batch {
        let time = self.time();
        let (mut inputs, mut targets) = (Vec::with_capacity(batch * time), Vec::with_capacity(batch * time));
        for _ in 0..batch {
            let first: Vec<usize> = (0..self.half).map(|_| rng.random_range(0..self.vocab)).collect();
            let start = inputs.len();
            inputs.extend_from_slice(&first);
            inputs.extend_from_slice(&first);
            targets.extend_from_slice(&inputs[start + 1..]);
            targets.push(first[0]);
        }
        Batch {
            inputs,
            targets,
            batch,
            time,
        }
    }

    /// The positions whose target has been seen before, right after the same
    /// token: `half..2·half − 1` (position `half − 1`, whose target starts the
    /// repeat, is left out: nothing before it says the sequence will restart).
    pub fn repeat_positions(&self) -> std::ops::Range<usize> {
        self.half..2 * self.half - 1
    }

    /// The positions of the first half, whose targets are fresh draws.
    pub fn fresh_positions(&self) -> std::ops::Range<usize> {
        0..self.half - 1
    }
}
