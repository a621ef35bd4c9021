//! What a chapter run found, and the text it printed that the book quotes.
//!
//! A run's values come in two kinds. Those computed from the seed (losses,
//! accuracies, samples) are the same bit for bit on every rerun with the same
//! seed and thread count: they go to `summary.json`, which the repository
//! keeps. Those read off the clock (tokens per second, milliseconds per token)
//! change on every run: they go to `timings.json` beside it, which git
//! ignores, or, when `--timings` asks for it, to `measured.json`, the
//! measurement the repository keeps and the book quotes.

use serde_json::{Map, Value};
use std::path::PathBuf;

/// What a chapter found: named numbers (and text), its figures, and a few
/// sentences of conclusion; and, apart, what it timed.
#[derive(Clone, Debug)]
pub struct Summary {
    pub chapter: String,
    pub title: String,
    pub values: Vec<(String, Value)>,
    pub findings: Vec<String>,
    pub figures: Vec<PathBuf>,
    /// Wall-clock values (and the findings and figures that quote them).
    pub timings: Timings,
}

/// The wall-clock part of a run: values read off the clock, the findings that
/// quote them and the figures that draw them.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub values: Vec<(String, Value)>,
    pub findings: Vec<String>,
    pub figures: Vec<PathBuf>,
}

impl Timings {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.findings.is_empty() && self.figures.is_empty()
    }
}

impl Summary {
    pub fn new(chapter: &str, title: &str) -> Self {
        Summary {
            chapter: chapter.into(),
            title: title.into(),
            values: Vec::new(),
            findings: Vec::new(),
            figures: Vec::new(),
            timings: Timings::default(),
        }
    }

    /// Records a named value (a number, a string, a list…).
    pub fn record(&mut self, key: &str, value: impl Into<Value>) {
        self.values.push((key.into(), value.into()));
    }

    /// Records one sentence of what the chapter shows.
    pub fn finding(&mut self, text: impl Into<String>) {
        self.findings.push(text.into());
    }

    /// Records a wall-clock value (kept out of `summary.json`).
    pub fn record_time(&mut self, key: &str, value: impl Into<Value>) {
        self.timings.values.push((key.into(), value.into()));
    }

    /// Records a sentence that quotes a wall-clock value.
    pub fn timed_finding(&mut self, text: impl Into<String>) {
        self.timings.findings.push(text.into());
    }

    /// A recorded value, of either kind.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values
            .iter()
            .chain(&self.timings.values)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Every finding: those computed from the seed, then the timed ones.
    pub fn all_findings(&self) -> impl Iterator<Item = &String> {
        self.findings.iter().chain(&self.timings.findings)
    }

    /// `summary.json`: the values computed from the seed, the same on every rerun.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("chapter".into(), self.chapter.clone().into());
        m.insert("title".into(), self.title.clone().into());
        m.insert(
            "values".into(),
            Value::Object(self.values.iter().cloned().collect()),
        );
        m.insert("findings".into(), self.findings.clone().into());
        m.insert("figures".into(), file_names(&self.figures).into());
        serde_json::to_string_pretty(&Value::Object(m)).expect("a JSON value serializes")
    }

    /// `timings.json` or `measured.json`: the wall-clock values, the findings
    /// that quote them, their figures, and the command and machine that
    /// measured them.
    pub fn timings_json(&self, command: &str, machine: &str) -> String {
        let mut m = Map::new();
        m.insert("chapter".into(), self.chapter.clone().into());
        m.insert("command".into(), command.into());
        m.insert("machine".into(), machine.into());
        let values = self.timings.values.iter().cloned().collect();
        m.insert("values".into(), Value::Object(values));
        m.insert("findings".into(), self.timings.findings.clone().into());
        m.insert("figures".into(), file_names(&self.timings.figures).into());
        serde_json::to_string_pretty(&Value::Object(m)).expect("a JSON value serializes")
    }

    /// The findings (each value was printed where it was computed; all of
    /// them are in the files, not repeated here).
    pub fn print(&self) {
        let findings: Vec<&String> = self.all_findings().collect();
        if !findings.is_empty() {
            println!();
            for f in findings {
                println!("   * {f}");
            }
        }
    }
}

/// The file names of `paths`, as the summaries list their figures.
fn file_names(paths: &[PathBuf]) -> Vec<Value> {
    paths
        .iter()
        .map(|p| {
            p.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
                .into()
        })
        .collect()
}

/// Printed output that is also kept, with anchors, in a text file next to the
/// figures: book pages include pieces of it (`{{#include figures/ch03/trace.txt:name}}`),
/// so what a page shows is what the program printed.
#[derive(Default)]
pub struct Transcript {
    pub text: String,
}

impl Transcript {
    /// Prints a line (indented like the rest of a chapter's output) and keeps it.
    pub fn say(&mut self, line: impl Into<String>) {
        let line = line.into();
        println!("   {line}");
        self.text.push_str(&line);
        self.text.push('\n');
    }
    /// Starts a named piece (not printed).
    pub fn anchor(&mut self, name: &str) {
        self.text.push_str(&format!("ANCHOR: {name}\n"));
    }
    /// Ends a named piece.
    pub fn end(&mut self, name: &str) {
        self.text.push_str(&format!("ANCHOR_END: {name}\n"));
    }
}
