//! Summarisation (§6.2): a story of things taken, handed over and dropped;
//! its summary says who holds what at the end. The summary is a fixed
//! function of the whole story, so it can be scored exactly: as a string
//! (exact match) and as a set of (person, thing) facts (F1).
//!
//! ```text
//! Mary took the apple. Mary gave the apple to John. Sandra took the key.=John: apple; Sandra: key
//! ```
//!
//! People appear in the summary in a fixed order (Mary, John, Sandra), each
//! one's things in the order the story first names them; "nobody" if no one
//! holds anything. The memory an example demands is the number of events.

use super::Example;
use rand::RngExt;
use rand::rngs::StdRng;
use std::collections::HashSet;

pub const PEOPLE: &[&str] = &["Mary", "John", "Sandra"];
pub const THINGS: &[&str] = &["apple", "milk", "key", "book", "ball"];

/// The summarisation task: stories of `min_events..=max_events` events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub min_events: usize,
    pub max_events: usize,
}

impl Summary {
    pub fn new(min_events: usize, max_events: usize) -> Self {
        assert!(
            1 <= min_events && min_events <= max_events,
            "Summary: events {min_events}..={max_events} must be a non-empty range from 1"
        );
        Summary {
            min_events,
            max_events,
        }
    }

    /// One story and its summary.
    pub fn example(&self, rng: &mut StdRng) -> Example {
        let n = rng.random_range(self.min_events..=self.max_events);
        // holder[i]: who holds thing i; first[i]: when the story first named it.
        let mut holder: Vec<Option<usize>> = vec![None; THINGS.len()];
        let mut first: Vec<Option<usize>> = vec![None; THINGS.len()];
        let mut events = Vec::with_capacity(n);
        for t in 0..n {
            let held: Vec<usize> = (0..THINGS.len()).filter(|&i| holder[i].is_some()).collect();
            let free: Vec<usize> = (0..THINGS.len()).filter(|&i| holder[i].is_none()).collect();
            let kind = if held.is_empty() {
                0
            } else if free.is_empty() {
                1 + rng.random_range(0..2)
            } else {
                rng.random_range(0..3)
            };
            let event = match kind {
                0 => {
                    let (i, p) = (
                        free[rng.random_range(0..free.len())],
                        rng.random_range(0..PEOPLE.len()),
                    );
                    holder[i] = Some(p);
                    first[i].get_or_insert(t);
                    format!("{} took the {}.", PEOPLE[p], THINGS[i])
                }
                1 => {
                    let i = held[rng.random_range(0..held.len())];
                    let from = holder[i].unwrap_or(0);
                    let to = (from + rng.random_range(1..PEOPLE.len())) % PEOPLE.len();
                    holder[i] = Some(to);
                    format!("{} gave the {} to {}.", PEOPLE[from], THINGS[i], PEOPLE[to])
                }
                _ => {
                    let i = held[rng.random_range(0..held.len())];
                    let from = holder[i].unwrap_or(0);
                    holder[i] = None;
                    format!("{} dropped the {}.", PEOPLE[from], THINGS[i])
                }
            };
            events.push(event);
        }
        Example {
            prompt: events.join(" "),
            answer: summarise(&holder, &first),
            demand: n,
        }
    }
}

/// "Mary: apple key; John: milk", or "nobody".
fn summarise(holder: &[Option<usize>], first: &[Option<usize>]) -> String {
    let mut parts = Vec::new();
    for (p, name) in PEOPLE.iter().enumerate() {
        let mut things: Vec<usize> = (0..THINGS.len()).filter(|&i| holder[i] == Some(p)).collect();
        things.sort_by_key(|&i| first[i]);
        if !things.is_empty() {
            let names: Vec<&str> = things.iter().map(|&i| THINGS[i]).collect();
            parts.push(format!("{name}: {}", names.join(" ")));
        }
    }
    if parts.is_empty() {
        "nobody".to_string()
    } else {
        parts.join("; ")
    }
}

/// The (person, thing) facts a summary states; anything that does not parse
/// as `Name: thing thing; Name: thing` states nothing.
fn facts(summary: &str) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    for part in summary.split("; ") {
        if let Some((who, things)) = part.split_once(": ") {
            for thing in things.split(' ').filter(|t| !t.is_empty()) {
                out.insert((who.to_string(), thing.to_string()));
            }
        }
    }
    out
}

/// F1 of the facts of `said` against those of `truth`: 1 when both state
/// nothing ("nobody" against "nobody").
pub fn summary_f1(said: &str, truth: &str) -> f64 {
    let (s, t) = (facts(said), facts(truth));
    if t.is_empty() && s.is_empty() {
        return if said == truth { 1.0 } else { 0.0 };
    }
    let hit = s.intersection(&t).count() as f64;
    if hit == 0.0 {
        return 0.0;
    }
    let (precision, recall) = (hit / s.len() as f64, hit / t.len() as f64);
    2.0 * precision * recall / (precision + recall)
}
