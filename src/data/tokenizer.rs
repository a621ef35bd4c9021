//! A character tokenizer: one token per Unicode scalar value.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// Maps each character of an alphabet to an id, in sorted order.
///
/// Characters are Unicode scalar values (`char`), not bytes, so "é" or "记" is one
/// token. Text with a character outside the alphabet is refused with
/// [`UnknownChars`], which lists them: nothing is dropped silently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharTokenizer {
    chars: Vec<char>,
    ids: HashMap<char, usize>,
}

/// Error of [`CharTokenizer::encode`]: characters the alphabet lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownChars {
    /// Each unknown character once, with the char index of its first occurrence.
    pub chars: Vec<(char, usize)>,
}

impl fmt::Display for UnknownChars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} character(s) not in the vocabulary:", self.chars.len())?;
        for (c, pos) in self.chars.iter().take(20) {
            write!(f, " {c:?} (U+{:04X}, first at char {pos})", *c as u32)?;
        }
        if self.chars.len() > 20 {
            write!(f, " … and {} more", self.chars.len() - 20)?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownChars {}

/// Error of [`CharTokenizer::decode`]: an id outside the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownId {
    pub id: usize,
    pub position: usize,
    pub vocab_size: usize,
}

impl fmt::Display for UnknownId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token id {} at position {} is out of range for a vocabulary of {}",
            self.id, self.position, self.vocab_size
        )
    }
}

impl std::error::Error for UnknownId {}

impl CharTokenizer {
    /// The alphabet of a text: every distinct character, sorted by code point.
    pub fn from_text(text: &str) -> Self {
        let set: BTreeSet<char> = text.chars().collect();
        Self::from_chars(set.into_iter().collect())
    }

    /// Rebuilds a tokenizer from its alphabet string (as saved in a checkpoint).
    /// Returns `None` if a character repeats.
    pub fn from_alphabet(alphabet: &str) -> Option<Self> {
        let chars: Vec<char> = alphabet.chars().collect();
        let set: BTreeSet<char> = chars.iter().copied().collect();
        (set.len() == chars.len()).then(|| Self::from_chars(chars))
    }

    fn from_chars(chars: Vec<char>) -> Self {
        let ids = chars.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        CharTokenizer { chars, ids }
    }

    pub fn vocab_size(&self) -> usize {
        self.chars.len()
    }

    /// All characters in id order, as one string: what a checkpoint stores.
    pub fn alphabet(&self) -> String {
        self.chars.iter().collect()
    }

    /// The id of one character, if it is in the alphabet.
    pub fn id(&self, c: char) -> Option<usize> {
        self.ids.get(&c).copied()
    }

    /// The character of one id.
    pub fn char(&self, id: usize) -> Option<char> {
        self.chars.get(id).copied()
    }

    /// Text → ids; an error lists every character the alphabet lacks.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, UnknownChars> {
        let mut ids = Vec::with_capacity(text.len());
        let mut unknown: Vec<(char, usize)> = Vec::new();
        for (pos, c) in text.chars().enumerate() {
            match self.ids.get(&c) {
                Some(&id) => ids.push(id),
                None if unknown.iter().any(|(u, _)| *u == c) => {}
                None => unknown.push((c, pos)),
            }
        }
        if unknown.is_empty() {
            Ok(ids)
        } else {
            Err(UnknownChars { chars: unknown })
        }
    }

    /// Ids → text; an error names the first id outside the vocabulary.
    pub fn decode(&self, ids: &[usize]) -> Result<String, UnknownId> {
        ids.iter()
            .enumerate()
            .map(|(position, &id)| {
                self.chars.get(id).copied().ok_or(UnknownId {
                    id,
                    position,
                    vocab_size: self.vocab_size(),
                })
            })
            .collect()
    }

    /// How a character is best shown in a table: `\n` as `⏎`, space as `␣`.
    pub fn display_char(c: char) -> String {
        match c {
            '\n' => "⏎".to_string(),
            ' ' => "␣".to_string(),
            '\t' => "⇥".to_string(),
            c => c.to_string(),
        }
    }
}
