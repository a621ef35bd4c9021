//! The built-in corpus: short stories and dialogues generated from templates,
//! in a small world of people, places and things, where later sentences depend
//! on earlier ones.
//!
//! "Mia: I put the key in the red box.\nTom: In the red box?" Nothing in the
//! last eight characters before the second "red box" says which box it was:
//! only a model that remembers the story can predict it. The generator records
//! every such *answer* (a span whose content is fixed by something said
//! earlier), so chapters can measure memory directly: the loss on answer
//! characters.
//!
//! Every answer starts more than 8 characters after the end of the latest
//! mention that fixes it, past the reach of an 8-gram, and at most 65 after
//! that mention's start, inside (or, in rare two-object stories, one character
//! past) the 64-character window the chapters' models read. The stories are short and have no filler sentences, because a
//! small Transformer learns to look an answer up only when the fact and the
//! question often fall in the same window: with the longer stories of earlier
//! versions (fillers, facts 50 to 100 characters back) it did not learn it
//! within a chapter's budget, and neither did the RNN.
//!
//! The text is ASCII, deterministic from a seed, and needs no file or network.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::ops::Range;

const NAMES: &[&str] = &[
    "Mia", "Tom", "Ada", "Leo", "Zoe", "Sam", "Eva", "Max", "Ivy", "Ben", "Lia", "Kai", "Noa", "Ray", "Uma",
    "Finn",
];
const OBJECTS: &[&str] = &[
    "key", "coin", "map", "book", "ring", "apple", "ball", "lamp", "cup", "letter", "shell", "hat",
];
const CONTAINERS: &[&str] = &[
    "red box",
    "blue bag",
    "green jar",
    "old chest",
    "small basket",
    "wooden drawer",
    "yellow tin",
    "big pot",
];
const PLACES: &[&str] = &[
    "kitchen", "garden", "attic", "cellar", "library", "market", "harbor", "forest", "school", "bakery",
];
const ANIMALS: &[&str] = &["cat", "dog", "fox", "owl", "goat", "duck", "horse", "mouse"];
const ADJECTIVES: &[&str] = &[
    "little", "clever", "sleepy", "brave", "grey", "happy", "quiet", "curious",
];
/// What an answer of the built-in corpus names, told from its words: the
/// stories draw each kind from a list of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// Where something was put ("blue bag").
    Container,
    /// Where someone went or said something is ("garden").
    Place,
    /// A thing on a list ("lamp").
    Object,
    /// A pet's name ("Kai").
    Name,
    /// A pet's kind ("owl").
    Animal,
    /// Words from none of the lists (not written by the generator).
    Other,
}

impl AnswerKind {
    /// The kind of the answer `words`.
    pub fn of(words: &str) -> AnswerKind {
        let lists = [
            (CONTAINERS, AnswerKind::Container),
            (PLACES, AnswerKind::Place),
            (OBJECTS, AnswerKind::Object),
            (NAMES, AnswerKind::Name),
            (ANIMALS, AnswerKind::Animal),
        ];
        lists
            .iter()
            .find(|(list, _)| list.contains(&words))
            .map_or(AnswerKind::Other, |&(_, kind)| kind)
    }
}

/// The generated text and where its answers are.
#[derive(Clone, Debug)]
pub struct Corpus {
    pub text: String,
    /// Byte ranges (the text is ASCII, so also char ranges) of answers: spans
    /// whose content was stated earlier in the same story.
    pub answers: Vec<Range<usize>>,
}

impl Corpus {
    /// A corpus of about `bytes` bytes (it stops after the story that crosses it).
    pub fn generate(seed: u64, bytes: usize) -> Corpus {
        let mut w = Writer {
            text: String::with_capacity(bytes + 1024),
            answers: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        };
        while w.text.len() < bytes {
            match w.rng.random_range(0..6) {
                0 => w.hide(),
                1 => w.two_hidden(),
                2 => w.journey(),
                3 => w.dialogue(),
                4 => w.pet(),
                _ => w.shopping(),
            }
            w.text.push_str("\n\n");
        }
        Corpus {
            text: w.text,
            answers: w.answers,
        }
    }

    /// The default built-in corpus: seed 0, about 1 MB.
    pub fn builtin() -> Corpus {
        Corpus::generate(0, 1_000_000)
    }

    /// A mask over characters: true where the character belongs to an answer.
    pub fn answer_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.text.len()];
        for r in &self.answers {
            mask[r.clone()].iter_mut().for_each(|m| *m = true);
        }
        mask
    }

    /// A mask over characters: true at the first character of each answer, the
    /// one that carries the choice (after "red", "box" follows from the words
    /// just before it; "r" itself only follows from the story).
    pub fn answer_start_mask(&self) -> Vec<bool> {
        let mut mask = vec![false; self.text.len()];
        for r in &self.answers {
            mask[r.start] = true;
        }
        mask
    }
}

struct Writer {
    text: String,
    answers: Vec<Range<usize>>,
    rng: StdRng,
}

impl Writer {
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.random_range(0..list.len())]
    }

    /// `n` different entries of `list`.
    fn pick_distinct<'a>(&mut self, list: &[&'a str], n: usize) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::with_capacity(n);
        while out.len() < n {
            let c = self.pick(list);
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    fn say(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Writes text that the story has already determined, and records it.
    fn answer(&mut self, s: &str) {
        let start = self.text.len();
        self.text.push_str(s);
        self.answers.push(start..self.text.len());
    }

    /// Someone hides an object; the listener checks, the speaker confirms.
    fn hide(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let (a, b) = (people[0], people[1]);
        let obj = self.pick(OBJECTS);
        let cont = self.pick(CONTAINERS);
        self.say(&format!("{a}: I put the {obj} in the {cont}.\n{b}: In the "));
        self.answer(cont);
        self.say(&format!("?\n{a}: Yes, the {obj} is in the "));
        self.answer(cont);
        self.say(".");
    }

    /// Two objects in two containers: the question must pick the right one.
    fn two_hidden(&mut self) {
        let people = self.pick_distinct(NAMES, 1);
        let objs = self.pick_distinct(OBJECTS, 2);
        let conts = self.pick_distinct(CONTAINERS, 2);
        self.say(&format!(
            "{} put the {} in the {}, the {} in the {}.",
            people[0], objs[0], conts[0], objs[1], conts[1]
        ));
        let q = self.rng.random_range(0..2);
        self.say(&format!(" The {}? In the ", objs[q]));
        self.answer(conts[q]);
        self.say(".");
    }

    /// Someone goes from one place to another; where are they now?
    fn journey(&mut self) {
        let a = self.pick(NAMES);
        let places = self.pick_distinct(PLACES, 2);
        self.say(&format!(
            "{a} went from the {} to the {}. Now {a} is in the ",
            places[0], places[1]
        ));
        self.answer(places[1]);
        self.say(".");
    }

    /// A short dialogue, one speaker per line: where something is, said and repeated back.
    fn dialogue(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let (a, b) = (people[0], people[1]);
        let obj = self.pick(OBJECTS);
        let place = self.pick(PLACES);
        self.say(&format!(
            "{a}: Hello, {b}. Where is my {obj}?\n{b}: Your {obj} is in the {place}.\n{a}: My {obj} is in the "
        ));
        self.answer(place);
        self.say("? Thank you.");
    }

    /// An animal with a name, greeted by its name and kind.
    fn pet(&mut self) {
        let name = self.pick(NAMES);
        let animal = self.pick(ANIMALS);
        let adj = self.pick(ADJECTIVES);
        self.say(&format!("The {adj} {animal} was called {name}. Good night, "));
        self.answer(name);
        self.say(&format!(", said the {animal}. Good night, little "));
        self.answer(animal);
        self.say(".");
    }

    /// A list bought at the market, repeated back in order.
    fn shopping(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let things = self.pick_distinct(OBJECTS, 3);
        self.say(&format!(
            "{} bought a {}, a {} and a {}. {}: A ",
            people[0], things[0], things[1], things[2], people[1]
        ));
        self.answer(things[0]);
        self.say(", a ");
        self.answer(things[1]);
        self.say(" and a ");
        self.answer(things[2]);
        self.say("?");
    }
}
