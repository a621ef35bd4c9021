//! `mdbook-mathml`: an mdBook preprocessor that renders `$…$` and `$$…$$` as MathML
//! when the book is built, so that the pages need no script and no network.
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
use serde_json::Value;
use std::io::{Read, Write};
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
    let mut errors = Vec::new();
    walk(&mut book, &mut errors);
    if !errors.is_empty() {
        return Err(format!(
            "{} formula(s) could not be rendered:\n{}",
            errors.len(),
            errors.join("\n")
        ));
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &book).map_err(|e| format!("writing stdout: {e}"))?;
    out.flush().map_err(|e| format!("writing stdout: {e}"))
}

/// Renders the math of every chapter found in `v`, collecting errors instead of
/// stopping at the first, so that one build reports them all.
fn walk(v: &mut Value, errors: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(chapter)) = map.get_mut("Chapter") {
                let name = ["source_path", "path", "name"]
                    .iter()
                    .find_map(|k| chapter.get(*k).and_then(Value::as_str))
                    .unwrap_or("?")
                    .to_string();
                if let Some(Value::String(content)) = chapter.get_mut("content") {
                    match render_markdown(content) {
                        Ok(rendered) => *content = rendered,
                        Err(e) => errors.push(format!("  {name}:{e}")),
                    }
                }
            }
            for child in map.values_mut() {
                walk(child, errors);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| walk(x, errors)),
        _ => {}
    }
}
