//! Translation (§6.3): the SCAN command language of Lake & Baroni (2018),
//! commands in a small English grammar translated into action sequences.
//!
//! ```text
//! C → S and S | S after S | S          S → V twice | V thrice | V
//! V → U | U D | U opposite D | U around D | turn D | turn opposite D | turn around D
//! U → walk | look | run | jump         D → left | right
//! ```
//!
//! Each action is one character, so a character model reads it as one token:
//! WALK `W`, LOOK `L`, RUN `R`, JUMP `J`, LTURN `<`, RTURN `>`.
//! "jump opposite left and walk thrice" → `<<JWWW`. The grammar makes 20,910
//! commands. Two of the paper's splits: *simple* (a random 80 % to train on,
//! 20 % to test) and *length* (train on commands whose actions number at most
//! 22, test on the longer ones). The memory an example demands is the length
//! of its action sequence.

use super::{Example, Splits};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

const ACTIONS: [(&str, char); 4] = [("walk", 'W'), ("look", 'L'), ("run", 'R'), ("jump", 'J')];
const DIRECTIONS: [(&str, char); 2] = [("left", '<'), ("right", '>')];

/// The longest action sequence of the length split's training set.
pub const LENGTH_SPLIT_TRAIN_MAX: usize = 22;

/// Which of the paper's splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanSplit {
    /// 80 % of the commands at random to train on, the other 20 % to test.
    Simple,
    /// Train on action sequences of at most 22, test on longer ones.
    Length,
}

/// The SCAN task: every command with its translation.
pub struct Scan {
    pub examples: Vec<Example>,
}

impl Default for Scan {
    fn default() -> Self {
        Self::new()
    }
}

impl Scan {
    /// All 20,910 commands of the grammar, translated.
    pub fn new() -> Self {
        let mut verbs: Vec<String> = Vec::new();
        for (u, _) in ACTIONS {
            verbs.push(u.to_string());
        }
        for (u, _) in ACTIONS.iter().copied().chain([("turn", ' ')]) {
            for (d, _) in DIRECTIONS {
                verbs.push(format!("{u} {d}"));
                verbs.push(format!("{u} opposite {d}"));
                verbs.push(format!("{u} around {d}"));
            }
        }
        let mut phrases: Vec<String> = Vec::new();
        for v in &verbs {
            phrases.push(v.clone());
            phrases.push(format!("{v} twice"));
            phrases.push(format!("{v} thrice"));
        }
        let mut commands: Vec<String> = phrases.clone();
        for a in &phrases {
            for b in &phrases {
                commands.push(format!("{a} and {b}"));
                commands.push(format!("{a} after {b}"));
            }
        }
        let examples = commands
            .into_iter()
            .map(|c| {
                let answer = translate(&c).expect("every command of the grammar translates");
                Example {
                    demand: answer.len(),
                    prompt: c,
                    answer,
                }
            })
            .collect();
        Scan { examples }
    }

    /// The paper's `split`, with `val` training commands held out for
    /// validation; the order is shuffled from `seed`.
    pub fn split(&self, split: ScanSplit, val: usize, seed: u64) -> Splits {
        let mut all = self.examples.clone();
        all.shuffle(&mut StdRng::seed_from_u64(seed));
        let (test, mut rest): (Vec<Example>, Vec<Example>) = match split {
            ScanSplit::Simple => {
                let n_test = all.len() / 5;
                let rest = all.split_off(n_test);
                (all, rest)
            }
            ScanSplit::Length => all
                .into_iter()
                .partition(|e| e.answer.len() > LENGTH_SPLIT_TRAIN_MAX),
        };
        let train = rest.split_off(val.min(rest.len()));
        Splits {
            train,
            val: rest,
            test,
        }
    }
}

/// The interpretation function: a command's action sequence, or `None` if
/// the command is not in the grammar.
pub fn translate(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split(' ').collect();
    for (conj, swap) in [("and", false), ("after", true)] {
        if let Some(i) = words.iter().position(|w| *w == conj) {
            let (a, b) = (phrase(&words[..i])?, phrase(&words[i + 1..])?);
            return Some(if swap { b + &a } else { a + &b });
        }
    }
    phrase(&words)
}

/// S → V | V twice | V thrice.
fn phrase(words: &[&str]) -> Option<String> {
    let (times, verb) = match words.split_last()? {
        (&"twice", rest) => (2, rest),
        (&"thrice", rest) => (3, rest),
        _ => (1, words),
    };
    Some(verb_phrase(verb)?.repeat(times))
}

/// V: an action or `turn`, then nothing, a direction, `opposite` or `around` a direction.
fn verb_phrase(words: &[&str]) -> Option<String> {
    let (first, rest) = words.split_first()?;
    let action = if *first == "turn" {
        String::new()
    } else {
        ACTIONS.iter().find(|(w, _)| w == first)?.1.to_string()
    };
    let dir = |w: &str| DIRECTIONS.iter().find(|(d, _)| *d == w).map(|d| d.1.to_string());
    match rest {
        [] if !action.is_empty() => Some(action),
        [d] => Some(dir(d)? + &action),
        ["opposite", d] => Some(dir(d)?.repeat(2) + &action),
        ["around", d] => Some((dir(d)? + &action).repeat(4)),
        _ => None,
    }
}
