//! What a chapter run found, and the text it printed that the book quotes.

use serde_json::{Map, Value};
use std::path::PathBuf;

/// What a chapter found: named numbers (and text), its figures, and a few
/// sentences of conclusion.
#[derive(Clone, Debug)]
pub struct Summary {
    pub chapter: String,
    pub title: String,
    pub values: Vec<(String, Value)>,
    pub findings: Vec<String>,
    pub figures: Vec<PathBuf>,
}

impl Summary {
    pub fn new(chapter: &str, title: &str) -> Self {
        Summary {
            chapter: chapter.into(),
            title: title.into(),
            values: Vec::new(),
            findings: Vec::new(),
            figures: Vec::new(),
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

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("chapter".into(), self.chapter.clone().into());
        m.insert("title".into(), self.title.clone().into());
        let values: Map<String, Value> = self.values.iter().cloned().collect();
        m.insert("values".into(), Value::Object(values));
        m.insert("findings".into(), self.findings.clone().into());
        let figs: Vec<Value> = self
            .figures
            .iter()
            .map(|p| {
                p.file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned())
                    .into()
            })
            .collect();
        m.insert("figures".into(), figs.into());
        serde_json::to_string_pretty(&Value::Object(m)).expect("a JSON value serializes")
    }

    /// The values as a two-column table, then the findings.
    pub fn print(&self) {
        let width = self
            .values
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        println!("\n   {:<width$}  value", "measured");
        println!("   {:-<width$}  {:-<12}", "", "");
        for (k, v) in &self.values {
            if k == "command" {
                continue;
            }
            let shown = show(v);
            if shown.chars().count() > 60 {
                println!("   {k:<width$}  (in summary.json)");
            } else {
                println!("   {k:<width$}  {shown}");
            }
        }
        if !self.findings.is_empty() {
            println!();
            for f in &self.findings {
                println!("   * {f}");
            }
        }
    }
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

/// A value for a table: numbers with 4 significant digits, strings bare.
fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() && x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) => format!("{x:.3e}"),
            Some(x) if n.is_f64() => format!("{x:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
