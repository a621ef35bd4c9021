//! Multi-query associative recall (MQAR), the recall task of Zoology (Arora et
//! al. 2023): a sequence opens with key–value pairs, `k₁ v₁ k₂ v₂ … k_N v_N`,
//! and later asks for every key again, in random order, among filler tokens;
//! after each asked key the model must say its value. Keys and values come
//! from disjoint halves of the vocabulary, so a key is never mistaken for a
//! value. Where the single-symbol recall task asks how *far* back a model can
//! reach, this one asks how *much* it can hold: N facts at once.
//!
//! ```text
//! k₃ v₇ k₁ v₂ k₈ v₇ · · k₁ · · · k₈ · k₃ · ·
//!                        ↑v₂     ↑v₇  ↑v₇      (the answers, by construction)
//! ```

use super::Batch;
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::collections::HashSet;

/// The shape of an MQAR task: `keys` key ids, `values` value ids, then one
/// filler id; sequences of `len` tokens holding `pairs` pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mqar {
    pub keys: usize,
    pub values: usize,
    pub pairs: usize,
    pub len: usize,
}

/// One sequence: its tokens, and where each question is and what it answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MqarSequence {
    pub tokens: Vec<usize>,
    /// The positions holding a repeated key, in order.
    pub queries: Vec<usize>,
    /// The value each of those keys was paired with.
    pub answers: Vec<usize>,
}

/// A batch of sequences: the windows, and the questions as flat positions
/// `b·len + t` of the batch with their answers.
pub struct MqarBatch {
    pub batch: Batch,
    pub queries: Vec<usize>,
    pub answers: Vec<usize>,
}

impl Mqar {
    /// A task with the vocabulary split in halves of `keys` each.
    ///
    /// # Panics
    /// If the pairs do not fit: `2·pairs` tokens of pairs plus `pairs`
    /// questions must fit in `len`, and `pairs` distinct keys must exist.
    pub fn new(keys: usize, pairs: usize, len: usize) -> Self {
        assert!(
            pairs >= 1 && pairs <= keys,
            "Mqar: {pairs} pairs need that many distinct keys, there are {keys}"
        );
        assert!(
            3 * pairs <= len,
            "Mqar: {pairs} pairs and their questions need {} tokens, the sequence has {len}",
            3 * pairs
        );
        Mqar {
            keys,
            values: keys,
            pairs,
            len,
        }
    }

    pub fn vocab(&self) -> usize {
        self.keys + self.values + 1
    }

    /// The filler id `·`.
    pub fn filler(&self) -> usize {
        self.keys + self.values
    }

    /// One sequence: `pairs` distinct keys each with a value drawn uniformly,
    /// then the keys again in a random order, at random distinct positions
    /// after the pairs, filler everywhere else.
    pub fn sequence(&self, rng: &mut StdRng) -> MqarSequence {
        let mut keys: Vec<usize> = (0..self.keys).collect();
        keys.shuffle(rng);
        keys.truncate(self.pairs);
        let values: Vec<usize> = (0..self.pairs)
            .map(|_| self.keys + rng.random_range(0..self.values))
            .collect();
        let mut tokens = vec![self.filler(); self.len];
        for (i, (&k, &v)) in keys.iter().zip(&values).enumerate() {
            tokens[2 * i] = k;
            tokens[2 * i + 1] = v;
        }
        let mut slots: Vec<usize> = (2 * self.pairs..self.len).collect();
        slots.shuffle(rng);
        slots.truncate(self.pairs);
        slots.sort_unstable();
        let mut order: Vec<usize> = (0..self.pairs).collect();
        order.shuffle(rng);
        let mut answers = Vec::with_capacity(self.pairs);
        for (&at, &which) in slots.iter().zip(&order) {
            tokens[at] = keys[which];
            answers.push(values[which]);
        }
        MqarSequence {
            tokens,
            queries: slots,
            answers,
        }
    }

    /// `n` distinct sequences from `seed`, none of them in `exclude`.
    ///
    /// # Panics
    /// If the task has too few distinct sequences to find `n` new ones (after
    /// 100·n + 1000 draws).
    pub fn set(&self, n: usize, seed: u64, exclude: &HashSet<MqarSequence>) -> Vec<MqarSequence> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut seen = HashSet::with_capacity(n);
        let mut out = Vec::with_capacity(n);
        let mut draws = 0usize;
        while out.len() < n {
            draws += 1;
            assert!(
                draws <= 100 * n + 1000,
                "Mqar::set: found only {} new sequences of {n} in {draws} draws; the task ({self:?}) has too few",
                out.len()
            );
            let s = self.sequence(&mut rng);
            if !exclude.contains(&s) && seen.insert(s.clone()) {
                out.push(s);
            }
        }
        out
    }

    /// Training, validation and test sets drawn from three seeds derived from
    /// `seed`; the validation and test sets hold no training sequence and
    /// share none with each other.
    pub fn splits(&self, train: usize, val: usize, test: usize, seed: u64) -> MqarSplits {
        let train = self.set(train, seed ^ 0x7121_0001, &HashSet::new());
        let mut seen: HashSet<MqarSequence> = train.iter().cloned().collect();
        let val = self.set(val, seed ^ 0x7121_0002, &seen);
        seen.extend(val.iter().cloned());
        let test = self.set(test, seed ^ 0x7121_0003, &seen);
        MqarSplits { train, val, test }
    }

    /// The sequences `chosen` of `set` as one batch.
    pub fn batch(&self, set: &[MqarSequence], chosen: &[usize]) -> MqarBatch {
        let (mut inputs, mut targets, mut queries, mut answers) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (b, &i) in chosen.iter().enumerate() {
            let s = &set[i];
            inputs.extend_from_slice(&s.tokens);
            // Next-token targets for completeness; the task scores only the answers.
            targets.extend(s.tokens[1..].iter().copied().chain([self.filler()]));
            queries.extend(s.queries.iter().map(|&t| b * self.len + t));
            answers.extend_from_slice(&s.answers);
        }
        MqarBatch {
            batch: Batch {
                inputs,
                targets,
                batch: chosen.len(),
                time: self.len,
            },
            queries,
            answers,
        }
    }
}

/// The three sets of an MQAR experiment.
pub struct MqarSplits {
    pub train: Vec<MqarSequence>,
    pub val: Vec<MqarSequence>,
    pub test: Vec<MqarSequence>,
}
