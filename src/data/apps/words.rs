//! One symbol per word. bAbI's and SCAN's published models read a word as one
//! token; a character model can do the same if each word of a task is written
//! as one character of its own. [`Words`] is that code: every run of letters
//! becomes one symbol, spaces are dropped (a symbol is a whole word, so no
//! space is needed to tell two apart), everything else (punctuation, digits)
//! stays as it is.
//!
//! ```text
//! Mary went to the kitchen. Where is Mary?   →   5 symbols . 3 symbols ?
//! ```

use super::{END, Example, SEP, Splits};
use std::collections::BTreeSet;
use std::fmt;

/// The first symbol: words are written from U+0100 on, far from the ASCII
/// that tasks keep as it is.
const FIRST_SYMBOL: u32 = 0x100;

/// A word the code has no symbol for (or a symbol it cannot read back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownWord {
    pub word: String,
    /// The words the code knows, to list in a message.
    pub known: Vec<String>,
}

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown word {:?}; the words this task knows are: {}",
            self.word,
            self.known.join(" ")
        )
    }
}

impl std::error::Error for UnknownWord {}

/// A task's words, each with its symbol (the word's index from U+0100).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Words {
    words: Vec<String>,
    /// Are answers written in symbols too? (SCAN's answers are actions,
    /// already one character each, and stay as they are.)
    answers: bool,
}

impl Words {
    /// Every word the examples of `splits` use, in alphabetical order: in
    /// their prompts, and in their answers if `answers`.
    pub fn of(splits: &Splits, answers: bool) -> Words {
        let mut words = BTreeSet::new();
        for e in splits.train.iter().chain(&splits.val).chain(&splits.test) {
            let texts = if answers {
                vec![&e.prompt, &e.answer]
            } else {
                vec![&e.prompt]
            };
            for text in texts {
                words.extend(pieces(text).into_iter().filter_map(|p| match p {
                    Piece::Word(w) => Some(w.to_string()),
                    Piece::Other(_) => None,
                }));
            }
        }
        Words::from_list(words.into_iter().collect(), answers)
    }

    /// The code for these words (symbol i is word i), for prompts and, if
    /// `answers`, answers.
    pub fn from_list(words: Vec<String>, answers: bool) -> Words {
        Words { words, answers }
    }

    /// Are answers written in symbols?
    pub fn answers(&self) -> bool {
        self.answers
    }

    pub fn list(&self) -> &[String] {
        &self.words
    }

    fn symbol(&self, word: &str) -> Result<char, UnknownWord> {
        self.words
            .iter()
            .position(|w| w == word)
            .and_then(|i| char::from_u32(FIRST_SYMBOL + i as u32))
            .ok_or_else(|| self.unknown(word))
    }

    fn unknown(&self, word: &str) -> UnknownWord {
        UnknownWord {
            word: word.to_string(),
            known: self.words.clone(),
        }
    }

    /// `text` with each word as its symbol, spaces dropped.
    pub fn encode(&self, text: &str) -> Result<String, UnknownWord> {
        let mut out = String::new();
        for p in pieces(text) {
            match p {
                Piece::Word(w) => out.push(self.symbol(w)?),
                Piece::Other(c) => out.push(c),
            }
        }
        Ok(out)
    }

    /// Symbols back to words: a space before every word except the first and
    /// one right after SEP or END, none before anything else ("Mary: apple
    /// key; John: milk", "Where is Mary?=kitchen").
    pub fn decode(&self, symbols: &str) -> Result<String, UnknownWord> {
        let mut out = String::new();
        for c in symbols.chars() {
            let code = c as u32;
            if code >= FIRST_SYMBOL {
                let word = self
                    .words
                    .get((code - FIRST_SYMBOL) as usize)
                    .ok_or_else(|| self.unknown(&c.to_string()))?;
                if !(out.is_empty() || out.ends_with([SEP, END])) {
                    out.push(' ');
                }
                out.push_str(word);
            } else {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// An example with its prompt (and answer, if the code covers answers)
    /// encoded; the demand kept.
    pub fn encode_example(&self, e: &Example) -> Result<Example, UnknownWord> {
        Ok(Example {
            prompt: self.encode(&e.prompt)?,
            answer: if self.answers {
                self.encode(&e.answer)?
            } else {
                e.answer.clone()
            },
            demand: e.demand,
        })
    }

    /// Every split encoded.
    pub fn encode_splits(&self, s: &Splits) -> Result<Splits, UnknownWord> {
        let all = |set: &[Example]| {
            set.iter()
                .map(|e| self.encode_example(e))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Splits {
            train: all(&s.train)?,
            val: all(&s.val)?,
            test: all(&s.test)?,
        })
    }
}

enum Piece<'a> {
    Word(&'a str),
    Other(char),
}

/// `text` as words (runs of letters) and single other characters, spaces dropped.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if c.is_alphabetic() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            out.push(Piece::Word(&text[s..i]));
        }
        if i < text.len() && c != ' ' {
            out.push(Piece::Other(c));
        }
    }
    out
}
