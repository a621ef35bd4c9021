//! The built-in corpus: short stories and dialogues generated from templates,
//! in a small world of people, places and things, where later sentences depend
//! on earlier ones.
//!
//! "Mia put the key in the red box. … Where is the key? In the red box." Nothing
//! in the last few characters before "red box" says which box it was: only a
//! model that remembers the story can predict it. The generator records every
//! such *answer* (a span whose content is fixed by something said earlier), so
//! chapters can measure memory directly: the loss on answer characters.
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
const ITEMS: &[&str] = &[
    "apples", "pears", "coins", "stamps", "marbles", "cookies", "pencils", "eggs",
];
const NUMBERS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// Sentences that move no story forward. `{X}`/`{Y}` become people who are not
/// the story's subject, `{P}` a place.
const FILLERS: &[&str] = &[
    "The sun was warm.",
    "It started to rain.",
    "The wind was cold that day.",
    "A bird sang outside.",
    "{X} looked at the sky.",
    "{X} ate some bread.",
    "{X} and {Y} played a game.",
    "{X} read for a while.",
    "A cat slept on the wall.",
    "{X} waved to {Y}.",
    "The clock said it was late.",
    "{X} was humming a tune.",
    "Somebody laughed in the {P}.",
    "{X} drank a cup of tea.",
    "The day went by slowly.",
    "{X} found a feather in the {P}.",
];

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
            match w.rng.random_range(0..7) {
                0 => w.hide(),
                1 => w.two_hidden(),
                2 => w.journey(),
                3 => w.counting(),
                4 => w.dialogue(),
                5 => w.pet(),
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

    /// Between 0 and `max` filler sentences, each preceded by a space, about
    /// people other than those in `avoid`.
    fn fillers(&mut self, max: usize, avoid: &[&str]) {
        let n = self.rng.random_range(0..=max);
        for _ in 0..n {
            let template = self.pick(FILLERS);
            let others: Vec<&str> = NAMES.iter().copied().filter(|n| !avoid.contains(n)).collect();
            let xy = self.pick_distinct(&others, 2);
            let p = self.pick(PLACES);
            let s = template
                .replace("{X}", xy[0])
                .replace("{Y}", xy[1])
                .replace("{P}", p);
            self.say(" ");
            self.say(&s);
        }
    }

    /// Someone hides an object; later someone asks where it is.
    fn hide(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let (a, b) = (people[0], people[1]);
        let obj = self.pick(OBJECTS);
        let cont = self.pick(CONTAINERS);
        let verb = self.pick(&["put", "hid", "left", "placed"]);
        self.say(&format!("{a} {verb} the {obj} in the {cont}."));
        self.fillers(5, &people);
        match self.rng.random_range(0..4) {
            0 => {
                self.say(&format!(" Where is the {obj}? In the "));
                self.answer(cont);
                self.say(".");
            }
            3 => {
                // The answer repeats the statement word for word.
                self.say(&format!(
                    " Where did {a} put the {obj}? {a} {verb} the {obj} in the "
                ));
                self.answer(cont);
                self.say(".");
            }
            1 => {
                self.say(&format!(" {b} asked {a} where the {obj} was. \"It is in the "));
                self.answer(cont);
                self.say(&format!(",\" said {a}."));
            }
            _ => {
                self.say(&format!(" Later, {b} opened the {cont} and took out the "));
                self.answer(obj);
                self.say(".");
            }
        }
    }

    /// Two objects in two containers: the question must pick the right one.
    fn two_hidden(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let objs = self.pick_distinct(OBJECTS, 2);
        let conts = self.pick_distinct(CONTAINERS, 2);
        self.say(&format!("{} put the {} in the {}.", people[0], objs[0], conts[0]));
        self.say(&format!(
            " {} put the {} in the {}.",
            people[1], objs[1], conts[1]
        ));
        self.fillers(3, &people);
        let q = self.rng.random_range(0..2);
        self.say(&format!(" Where is the {}? In the ", objs[q]));
        self.answer(conts[q]);
        self.say(&format!(". And the {}? In the ", objs[1 - q]));
        self.answer(conts[1 - q]);
        self.say(".");
    }

    /// Someone moves from place to place; where are they now?
    fn journey(&mut self) {
        let a = self.pick(NAMES);
        let n = self.rng.random_range(2..=3);
        let places = self.pick_distinct(PLACES, n);
        self.say(&format!("{a} was in the {}.", places[0]));
        let mut last_verb = "";
        for p in &places[1..] {
            last_verb = self.pick(&["walked", "ran", "went", "hurried"]);
            self.say(&format!(" Then {a} {last_verb} to the {p}."));
        }
        self.fillers(4, &[a]);
        if self.rng.random::<bool>() {
            self.say(&format!(" Where is {a} now? {a} is in the "));
        } else {
            self.say(&format!(" Where did {a} go last? Then {a} {last_verb} to the "));
        }
        self.answer(places[n - 1]);
        self.say(".");
    }

    /// Numbers that must be carried: n, give m, n − m left.
    fn counting(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let (a, b) = (people[0], people[1]);
        let item = self.pick(ITEMS);
        let n = self.rng.random_range(2..=9);
        let m = self.rng.random_range(1..n);
        self.say(&format!(
            "{a} had {} {item}. {a} gave {} to {b}.",
            NUMBERS[n], NUMBERS[m]
        ));
        self.fillers(3, &people);
        self.say(&format!(" Now {a} has "));
        self.answer(NUMBERS[n - m]);
        self.say(&format!(" {item} and {b} has "));
        self.answer(NUMBERS[m]);
        self.say(&format!(" {item}."));
    }

    /// A short dialogue, one speaker per line, repeating what was said.
    fn dialogue(&mut self) {
        let people = self.pick_distinct(NAMES, 2);
        let (a, b) = (people[0], people[1]);
        let obj = self.pick(OBJECTS);
        let place = self.pick(PLACES);
        let cont = self.pick(CONTAINERS);
        self.say(&format!("{a}: Hello, {b}. Have you seen my {obj}?\n"));
        self.say(&format!(
            "{b}: Yes, I saw your {obj} in the {place}, next to the {cont}.\n"
        ));
        self.say(&format!("{a}: In the "));
        self.answer(place);
        self.say("? Thank you, ");
        self.answer(b);
        self.say("!\n");
        self.say(&format!("{b}: You are welcome, "));
        self.answer(a);
        self.say(". Look near the ");
        self.answer(cont);
        self.say(".");
    }

    /// An animal with a name and a home, mentioned again later.
    fn pet(&mut self) {
        let name = self.pick(NAMES);
        let animal = self.pick(ANIMALS);
        let adj = self.pick(ADJECTIVES);
        let place = self.pick(PLACES);
        self.say(&format!(
            "There was a {adj} {animal} called {name}. It lived in the {place}."
        ));
        self.fillers(4, &[name]);
        self.say(&format!(" In the evening the {animal} went home to the "));
        self.answer(place);
        self.say(". Good night, ");
        self.answer(name);
        self.say(".");
    }

    /// A list bought at the market, recalled in order.
    fn shopping(&mut self) {
        let a = self.pick(NAMES);
        let things = self.pick_distinct(OBJECTS, 3);
        self.say(&format!(
            "{a} bought a {}, a {} and a {} at the market.",
            things[0], things[1], things[2]
        ));
        self.fillers(3, &[a]);
        self.say(&format!(" What did {a} buy? A "));
        self.answer(things[0]);
        self.say(", a ");
        self.answer(things[1]);
        self.say(" and a ");
        self.answer(things[2]);
        self.say(".");
    }
}
