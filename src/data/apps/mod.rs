//! The applications of chapter 6 (§6 of the tutorial) as tasks a character
//! model learns and is scored on: a prompt, then the one answer it determines.
//!
//! ```text
//! Mary went to the kitchen. John went to the garden. Where is Mary?=kitchen⏎
//! └──────────────────────── prompt ─────────────────────────────┘ │└answer┘└ END
//!                                                                 SEP
//! ```
//!
//! | file | application | the answer |
//! |---|---|---|
//! | `dialogue.rs` | dialogue memory (§6.1), bAbI tasks 1 and 2 | where a person or a thing is |
//! | `summary.rs` | summarisation (§6.2) | who holds what at the end of a story |
//! | `scan.rs` | translation (§6.3), the SCAN command language | the action sequence |
//! | `arith.rs` | code generation (§6.4), words to an arithmetic program | a program, judged by running it |
//!
//! `words.rs` writes each word of a task as one symbol, for the tasks whose
//! published models read words as tokens (bAbI, SCAN).
//!
//! Every generator is deterministic from a seed; [`Splits::draw`] draws the
//! test set, the validation set and the training set from three separate seeds
//! and keeps them disjoint (no prompt of one is in another).

mod arith;
mod dialogue;
mod scan;
mod summary;
mod words;

pub use arith::{Arithmetic, EvalError, eval};
pub use dialogue::{
    Dialogue, PEOPLE as DIALOGUE_PEOPLE, PLACES as DIALOGUE_PLACES, dialogue_words, is_move,
    is_person_question, moves,
};
pub use scan::{Scan, ScanSplit, translate};
pub use summary::{Summary, summary_f1};
pub use words::{UnknownWord, Words};

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashSet;

/// Between a prompt and its answer.
pub const SEP: char = '=';
/// After an answer: where greedy decoding stops.
pub const END: char = '\n';

/// One example: a prompt, its answer, and how much memory it demands (turns
/// between a fact and its question, events in a story, actions, operations:
/// each task says what).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Example {
    pub prompt: String,
    pub answer: String,
    pub demand: usize,
}

impl Example {
    /// What a model reads: `prompt SEP answer END`.
    pub fn text(&self) -> String {
        format!("{}{SEP}{}{END}", self.prompt, self.answer)
    }
}

/// Training, validation and test examples, disjoint by prompt.
#[derive(Clone, Debug)]
pub struct Splits {
    pub train: Vec<Example>,
    pub val: Vec<Example>,
    pub test: Vec<Example>,
}

/// A generator gave nothing new for [`Splits::MAX_MISSES`] draws in a row:
/// its space of examples is (nearly) used up by the sizes asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooFewExamples {
    pub split: &'static str,
    pub wanted: usize,
    pub found: usize,
}

impl std::fmt::Display for TooFewExamples {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the task ran out of new examples: the {} split wanted {} and found {} before {} draws in a row gave only prompts already drawn",
            self.split,
            self.wanted,
            self.found,
            Splits::MAX_MISSES
        )
    }
}

impl std::error::Error for TooFewExamples {}

/// Seeds of the three splits, derived from a run's seed so that no two
/// splits share a random stream.
const SPLIT_SEEDS: [(&str, u64); 3] = [("test", 0x7e57), ("validation", 0x0a11), ("training", 0x7a14)];

impl Splits {
    /// Draws in a row that give only known prompts before [`Splits::draw`]
    /// gives up. Near the end of a space of N prompts of which n are left, a
    /// draw is new with chance n/N; a limit this high gives up only when the
    /// space is all but exhausted.
    pub const MAX_MISSES: usize = 5000;

    /// Draws `test`, then `val`, then `train` distinct examples from `example`,
    /// each split from its own seed and skipping every prompt an earlier split
    /// holds. Fails if the generator runs dry ([`Splits::MAX_MISSES`] draws in
    /// a row give nothing new).
    pub fn draw(
        mut example: impl FnMut(&mut StdRng) -> Example,
        (train, val, test): (usize, usize, usize),
        seed: u64,
    ) -> Result<Splits, TooFewExamples> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut out: Vec<Vec<Example>> = Vec::new();
        for ((split, salt), wanted) in SPLIT_SEEDS.iter().zip([test, val, train]) {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9).wrapping_add(*salt));
            let mut set = Vec::with_capacity(wanted);
            let mut misses = 0;
            while set.len() < wanted {
                let e = example(&mut rng);
                if seen.insert(e.prompt.clone()) {
                    set.push(e);
                    misses = 0;
                } else {
                    misses += 1;
                    if misses == Self::MAX_MISSES {
                        return Err(TooFewExamples {
                            split,
                            wanted,
                            found: set.len(),
                        });
                    }
                }
            }
            out.push(set);
        }
        let train = out.pop().unwrap_or_default();
        let val = out.pop().unwrap_or_default();
        let test = out.pop().unwrap_or_default();
        Ok(Splits { train, val, test })
    }

    /// Every character any example uses, with [`SEP`] and [`END`]: the
    /// alphabet of a tokenizer for the task.
    pub fn alphabet(&self) -> String {
        let mut text = format!("{SEP}{END}");
        for e in self.train.iter().chain(&self.val).chain(&self.test) {
            text.push_str(&e.prompt);
            text.push_str(&e.answer);
        }
        text
    }

    /// The longest `prompt SEP answer END`, in characters.
    pub fn longest(&self) -> usize {
        self.train
            .iter()
            .chain(&self.val)
            .chain(&self.test)
            .map(|e| e.prompt.chars().count() + e.answer.chars().count() + 2)
            .max()
            .unwrap_or(0)
    }
}
