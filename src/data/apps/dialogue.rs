//! Dialogue memory (§6.1), after bAbI's tasks 1 and 2 (Weston et al. 2015):
//! people move between rooms and pick things up, turn after turn, and a
//! question asks where someone, or something, is now.
//!
//! ```text
//! Mary went to the kitchen. John picked up the milk. Sandra went to the garden. Where is Mary?=kitchen
//! ```
//!
//! Task 1 (one supporting fact) asks for a person: the answer is the room of
//! their last move. Task 2 (two supporting facts) asks for a thing: the room
//! of whoever holds it (the pick-up and the holder's last move), or the room
//! where it was dropped. The memory an example demands is the number of turns
//! between the oldest supporting fact and the question.

use super::Example;
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
        loop {
            if let Some(e) = self.try_example(rng) {
                return e;
            }
        }
    }

    /// A conversation; `None` if nobody (task 1) or nothing (task 2) can be asked about.
    fn try_example(&self, rng: &mut StdRng) -> Option<Example> {
        let n = rng.random_range(self.min_turns..=self.max_turns);
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
        }
        // (question, answer room, turn of the oldest supporting fact)
        let askable: Vec<(String, usize, usize)> = if self.two_facts {
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
        };
        if askable.is_empty() {
            return None;
        }
        let (question, room, fact) = askable[rng.random_range(0..askable.len())].clone();
        Some(Example {
            prompt: format!("{} {question}", turns.join(" ")),
            answer: PLACES[room].to_string(),
            demand: n - 1 - fact,
        })
    }
}
