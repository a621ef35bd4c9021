//! `mdbook-mathml`: an mdBook preprocessor that renders `$…$` and `$$…$$` as MathML
//! when the book is built, so that the pages need no script and no network, after
//! putting in the numbers the pages quote from the chapters' `summary.json`
//! (`{{#value …}}`, see `values`).
//!
//! The protocol (see the mdBook guide, "Preprocessors"):
//!
//! * `mdbook-mathml supports RENDERER` exits with 0 when the renderer is `html`;
//! * otherwise mdBook writes `[context, book]` as JSON on standard input and
//!   reads the processed book back, as JSON, on standard output.
//!
//! The book is handled as plain JSON: every object with a `"Chapter"` key has its
//! `content` rewritten, wherever it sits, so both mdBook 0.4 (`sections`) and 0.5
//! (`items`) layouts work without depending on the `mdbook` crate.

use mdbook_mathml::render_markdown;
use mdbook_mathml::values;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("supports") => {
            let renderer = args.get(1).map(String::as_str).unwrap_or("");
            if renderer == "html" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        None => match run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mdbook-mathml: {e}");
                ExitCode::FAILURE
            }
        },
        Some(other) => {
            eprintln!("mdbook-mathml: unknown argument `{other}`");
            eprintln!("usage: mdbook-mathml [supports RENDERER]   (book JSON on stdin)");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading stdin: {e}"))?;
    let value: Value = serde_json::from_str(&input).map_err(|e| format!("stdin is not JSON: {e}"))?;
    let Value::Array(mut parts) = value else {
        return Err("expected [context, book] on stdin".into());
    };
    if parts.len() != 2 {
        return Err(format!(
            "expected [context, book] on stdin, got {} values",
            parts.len()
        ));
    }
    let mut book = parts.pop().expect("two parts");
    let context = parts.pop().expect("two parts");
    // The figures live in the book's source folder: ROOT/SRC/figures/.
    let root = context.get("root").and_then(Value::as_str).unwrap_or(".");
    let src = context
        .pointer("/config/book/src")
        .and_then(Value::as_str)
        .unwrap_or("src");
    let figures = PathBuf::from(root).join(src).join("figures");
    let mut summaries = Summaries {
        figures,
        read: HashMap::new(),
    };
    let mut errors = Vec::new();
    walk(&mut book, &mut summaries, &mut errors);
    if !errors.is_empty() {
        return Err(format!(
            "{} page problem(s) (formulas that could not be rendered, values that could not be found):\n{}",
            errors.len(),
            errors.join("\n")
        ));
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &book).map_err(|e| format!("writing stdout: {e}"))?;
    out.flush().map_err(|e| format!("writing stdout: {e}"))
}

/// The values of each figures folder (its `summary.json` and `measured.json`),
/// read once.
struct Summaries {
    figures: PathBuf,
    read: HashMap<String, Result<Map<String, Value>, String>>,
}

impl Summaries {
    fn values(&mut self, folder: &str) -> Result<Map<String, Value>, String> {
        let dir = self.figures.join(folder);
        self.read
            .entry(folder.to_string())
            .or_insert_with(|| values::folder_values(&dir))
            .clone()
    }
}

/// Puts in the values and renders the math of every chapter found in `v`,
/// collecting errors instead of stopping at the first, so that one build
/// reports them all.
fn walk(v: &mut Value, summaries: &mut Summaries, errors: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(chapter)) = map.get_mut("Chapter") {
                let name = ["source_path", "path", "name"]
                    .iter()
                    .find_map(|k| chapter.get(*k).and_then(Value::as_str))
                    .unwrap_or("?")
                    .to_string();
                if let Some(Value::String(content)) = chapter.get_mut("content") {
                    match values::expand(content, &mut |folder| summaries.values(folder)) {
                        Ok(expanded) => *content = expanded,
                        Err(problems) => errors.extend(problems.iter().map(|p| format!("  {name}: {p}"))),
                    }
                    match render_markdown(content) {
                        Ok(rendered) => *content = rendered,
                        Err(e) => errors.push(format!("  {name}:{e}")),
                    }
                }
            }
            for child in map.values_mut() {
                walk(child, summaries, errors);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| walk(x, summaries, errors)),
        _ => {}
    }
}
