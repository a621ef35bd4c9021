//! Dialogue memory (§6.1), after bAbI's tasks 1 and 2 (Weston et al. 2015):
//! people move between rooms and pick things up, turn after turn, and a
//! question asks where someone, or something, is now.
//!
//! ```text
//! Mary went to the kitchen. Where is Mary?=kitchen⏎John picked up the milk. Sandra went to the garden. Where is Mary?=kitchen
//! ```
//!
//! As in bAbI, questions come now and then between the statements, each
//! answered in place (`=kitchen⏎`): the model is trained on every answer of a
//! conversation and scored on the last.
//!
//! Task 1 (one supporting fact) asks for a person: the answer is the room of
//! their last move. Task 2 (two supporting facts) asks for a thing: the room
//! of whoever holds it (the pick-up and the holder's last move), or the room
//! where it was dropped. The memory an example demands is the number of turns
//! between the oldest supporting fact and the question; every distance
//! the conversation length allows is equally likely, so that the last turn
//! alone answers few questions.

use super::{END, Example, SEP};
use rand::RngExt;
use rand::rngs::StdRng;

pub const PEOPLE: &[&str] = &["Mary", "John", "Sandra", "Daniel"];
pub const PLACES: &[&str] = &["kitchen", "garden", "office", "bathroom", "hallway", "bedroom"];
pub const THINGS: &[&str] = &["apple", "milk", "football"];
const MOVES: &[&str] = &[
    "went to",
    "moved to",
    "travelled to",
    "journeyed to",
    "went back to",
];
const TAKES: &[&str] = &["picked up", "got", "grabbed"];
const DROPS: &[&str] = &["dropped", "put down", "left"];
/// The chance of a question (answered in place) after a statement that is
/// not the last.
const ASK_BETWEEN: f64 = 0.5;

/// The dialogue task: `turns` statements (a range), then one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialogue {
    /// Task 2: ask where a thing is (two supporting facts); else where a person is.
    pub two_facts: bool,
    pub min_turns: usize,
    pub max_turns: usize,
}

/// Where everyone and everything is, and the turn that last settled it.
struct World {
    /// Per person: (room, turn of the move).
    at: Vec<Option<(usize, usize)>>,
    /// Per thing: held by (person, turn of the pick-up), or lying in (room,
    /// turn of the older of its supporting facts: the drop, and the dropper's
    /// last move before it).
    held: Vec<Option<(usize, usize)>>,
    lying: Vec<Option<(usize, usize)>>,
}

impl Dialogue {
    pub fn new(two_facts: bool, min_turns: usize, max_turns: usize) -> Self {
        assert!(
            1 <= min_turns && min_turns <= max_turns,
            "Dialogue: turns {min_turns}..={max_turns} must be a non-empty range from 1"
        );
        assert!(
            !two_facts || max_turns >= 2,
            "Dialogue: a question about a thing needs at least 2 turns (a move, then a pick-up), got {max_turns}"
        );
        Dialogue {
            two_facts,
            min_turns,
            max_turns,
        }
    }

    /// One conversation and its question.
    pub fn example(&self, rng: &mut StdRng) -> Example {
        // The question's distance first, uniformly, then the length, then
        // conversations until one has a question at that distance. (Asked
        // uniformly over people instead, most questions would be about the
        // last turn, which alone would answer them.)
        let lowest = usize::from(self.two_facts);
        let distance = rng.random_range(lowest..self.max_turns);
        let n = rng.random_range(self.min_turns.max(distance + 1)..=self.max_turns);
        loop {
            if let Some(e) = self.try_example(rng, n, distance) {
                return e;
            }
        }
    }

    /// A conversation of `n` turns; `None` if no one (task 1) or nothing
    /// (task 2) can be asked about at `distance` turns from the question.
    fn try_example(&self, rng: &mut StdRng, n: usize, distance: usize) -> Option<Example> {
        let mut w = World {
            at: vec![None; PEOPLE.len()],
            held: vec![None; THINGS.len()],
            lying: vec![None; THINGS.len()],
        };
        let mut turns = Vec::with_capacity(n);
        for t in 0..n {
            let p = rng.random_range(0..PEOPLE.len());
            let holding: Vec<usize> = (0..THINGS.len())
                .filter(|&i| w.held[i].is_some_and(|h| h.0 == p))
                .collect();
            let free: Vec<usize> = (0..THINGS.len()).filter(|&i| w.held[i].is_none()).collect();
            let choice = if self.two_facts { rng.random_range(0..3) } else { 0 };
            let turn = match choice {
                1 if w.at[p].is_some() && !free.is_empty() => {
                    let i = free[rng.random_range(0..free.len())];
                    w.held[i] = Some((p, t));
                    w.lying[i] = None;
                    format!(
                        "{} {} the {}.",
                        PEOPLE[p],
                        TAKES[rng.random_range(0..TAKES.len())],
                        THINGS[i]
                    )
                }
                2 if !holding.is_empty() => {
                    let i = holding[rng.random_range(0..holding.len())];
                    // The thing lies where its holder last went: that move
                    // and the drop are its two supporting facts.
                    let (room, moved) = w.at[p]?;
                    w.held[i] = None;
                    w.lying[i] = Some((room, moved.min(t)));
                    format!(
                        "{} {} the {}.",
                        PEOPLE[p],
                        DROPS[rng.random_range(0..DROPS.len())],
                        THINGS[i]
                    )
                }
                _ => {
                    let here = w.at[p].map(|a| a.0);
                    let room = loop {
                        let r = rng.random_range(0..PLACES.len());
                        if Some(r) != here {
                            break r;
                        }
                    };
                    w.at[p] = Some((room, t));
                    format!(
                        "{} {} the {}.",
                        PEOPLE[p],
                        MOVES[rng.random_range(0..MOVES.len())],
                        PLACES[room]
                    )
                }
            };
            turns.push(turn);
            // Now and then a question in between, answered in place, as in
            // bAbI: more answers to learn from in every conversation.
            if t + 1 < n && rng.random_bool(ASK_BETWEEN) {
                let ask = self.askable(&w);
                if !ask.is_empty() {
                    let (q, room, _) = &ask[rng.random_range(0..ask.len())];
                    turns.push(format!("{q}{SEP}{}{END}", PLACES[*room]));
                }
            }
        }
        let askable = self.askable(&w);
        let at: Vec<&(String, usize, usize)> = askable.iter().filter(|a| n - 1 - a.2 == distance).collect();
        if at.is_empty() {
            return None;
        }
        let (question, room, fact) = at[rng.random_range(0..at.len())].clone();
        Some(Example {
            prompt: format!("{}{question}", spoken(&turns)),
            answer: PLACES[room].to_string(),
            demand: n - 1 - fact,
        })
    }

    /// What can be asked now: (question, answer room, turn of the oldest
    /// supporting fact).
    fn askable(&self, w: &World) -> Vec<(String, usize, usize)> {
        if self.two_facts {
            (0..THINGS.len())
                .filter_map(|i| {
                    let q = format!("Where is the {}?", THINGS[i]);
                    if let Some((p, took)) = w.held[i] {
                        let (room, moved) = w.at[p]?;
                        Some((q, room, took.min(moved)))
                    } else {
                        w.lying[i].map(|(room, dropped)| (q, room, dropped))
                    }
                })
                .collect()
        } else {
            (0..PEOPLE.len())
                .filter_map(|p| w.at[p].map(|(room, t)| (format!("Where is {}?", PEOPLE[p]), room, t)))
                .collect()
        }
    }
}

/// The turns as one text: statements and questions separated by a space,
/// none after an answer's END.
fn spoken(turns: &[String]) -> String {
    let mut out = String::new();
    for t in turns {
        out.push_str(t);
        if !t.ends_with(END) {
            out.push(' ');
        }
    }
    out
}

/// Every word a conversation of either task can use, in alphabetical order:
/// a fixed vocabulary, so a saved dialogue model needs no word list beside it.
pub fn dialogue_words() -> Vec<String> {
    let mut words: Vec<String> = [PEOPLE, PLACES, THINGS, MOVES, TAKES, DROPS, &["Where is the"]]
        .iter()
        .flat_map(|list| list.iter().flat_map(|p| p.split(' ')))
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Is `sentence` (without its full stop) a move of task 1, such as "Mary went
/// to the kitchen"?
pub fn is_move(sentence: &str) -> bool {
    PEOPLE.iter().any(|p| {
        MOVES.iter().any(|m| {
            PLACES
                .iter()
                .any(|place| sentence == format!("{p} {m} the {place}"))
        })
    })
}

/// Is `question` (without its question mark) one task 1 asks, such as
/// "Where is Mary"?
pub fn is_person_question(question: &str) -> bool {
    PEOPLE.iter().any(|p| question == format!("Where is {p}"))
}

/// The moves a statement may use, for messages.
pub fn moves() -> &'static [&'static str] {
    MOVES
}
