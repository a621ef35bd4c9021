//! Repeated random tokens, the task on which induction heads show themselves
//! (Olsson et al. 2022). Each sequence is a block of L distinct random tokens,
//! the same block again, then fresh random tokens to the end of the window.
//! The block's tokens cannot be predicted (fresh draws, about ln V nats); in
//! the copy every token has been seen once, followed by the one that comes
//! next, so a model that finds the earlier occurrence of its current token and
//! copies what followed it predicts the rest of the copy exactly.
//!
//! L is drawn anew for every sequence. With one fixed L, a model could copy by
//! position alone ("predict the token L − 1 steps back"), which one attention
//! layer can do; with L varying, only the content says where to look.

use super::Batch;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

/// Windows of `time` tokens from a vocabulary of `vocab`, each holding a block
/// of `shortest..=longest` tokens followed by its copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeats {
    vocab: usize,
    time: usize,
    shortest: usize,
    longest: usize,
}

/// A batch of repeated sequences and, per row, the block's length L (the
/// copy starts at position L).
#[derive(Clone, Debug)]
pub struct RepeatBatch {
    pub batch: Batch,
    pub block_len: Vec<usize>,
}

impl Repeats {
    /// Checks the sizes: a block of at least 2 distinct tokens, whose two
    /// copies fit in the window.
    pub fn new(vocab: usize, time: usize, shortest: usize, longest: usize) -> Result<Self, String> {
        if shortest < 2 || shortest > longest {
            return Err(format!(
                "block lengths {shortest}..={longest}: need 2 <= shortest <= longest"
            ));
        }
        if 2 * longest > time {
            return Err(format!(
                "a block of {longest} tokens and its copy do not fit in a window of {time}"
            ));
        }
        if longest > vocab {
            return Err(format!(
                "a block of {longest} distinct tokens needs a vocabulary of at least {longest} (got {vocab})"
            ));
        }
        Ok(Repeats {
            vocab,
            time,
            shortest,
            longest,
        })
    }

    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Tokens per window.
    pub fn time(&self) -> usize {
        self.time
    }

    /// `batch` fresh sequences. Targets are the next token (the window holds
    /// `time + 1` tokens: inputs the first `time`, targets the last `time`).
    pub fn batch(&self, batch: usize, rng: &mut StdRng) -> RepeatBatch {
        let time = self.time;
        let mut tokens = Vec::with_capacity(time + 1);
        let mut all: Vec<usize> = (0..self.vocab).collect();
        let (mut inputs, mut targets, mut blocks) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..batch {
            let l = rng.random_range(self.shortest..=self.longest);
            all.shuffle(rng);
            tokens.clear();
            tokens.extend_from_slice(&all[..l]);
            tokens.extend_from_slice(&all[..l]);
            while tokens.len() <= time {
                tokens.push(rng.random_range(0..self.vocab));
            }
            inputs.extend_from_slice(&tokens[..time]);
            targets.extend_from_slice(&tokens[1..]);
            blocks.push(l);
        }
        RepeatBatch {
            batch: Batch {
                inputs,
                targets,
                batch,
                time,
            },
            block_len: blocks,
        }
    }

    /// `count` sequences drawn from `seed` (a test set of its own).
    pub fn sample(&self, count: usize, seed: u64) -> RepeatBatch {
        self.batch(count, &mut StdRng::seed_from_u64(seed))
    }
}

impl RepeatBatch {
    /// The positions of row `row` whose target the earlier occurrence
    /// determines: the copy from its first token to its second-to-last
    /// (`L..2L − 1`). The position before the copy, whose target starts it, is
    /// left out: nothing before it says the block will repeat.
    pub fn repeat_positions(&self, row: usize) -> std::ops::Range<usize> {
        let l = self.block_len[row];
        l..2 * l - 1
    }

    /// The positions of row `row` whose target is a fresh token of the block:
    /// `0..L − 1`.
    pub fn fresh_positions(&self, row: usize) -> std::ops::Range<usize> {
        0..self.block_len[row] - 1
    }
}
