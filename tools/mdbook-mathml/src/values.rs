//! `{{#value FIGURES "KEY"}}`: a number or a text from a chapter program's
//! `summary.json`, put into the page when the book is built, so that no page
//! quotes a run by hand and a rerun cannot leave the prose behind.
//!
//! * `FIGURES` is a folder under `src/figures/` (`ch05`, `ch05/tinyshakespeare`),
//!   whose `summary.json` holds a `values` object: the values a rerun at the
//!   same seed gives again bit for bit; and whose `measured.json`, if there is
//!   one, holds the wall-clock values (tokens/s, ms per token) of the run made
//!   with `--timings`, quoted the same way (see [`folder_values`]);
//! * `"KEY"` is one of its keys, in double quotes; `"A" / "B"` is their ratio;
//! * an optional format follows: `.N` (N decimals), `,.N` (N decimals, thousands
//!   separated by commas), `%.N` (times 100, N decimals: a percentage without its
//!   sign), `e.N` (scientific, N decimals: `1.7e-24`). Without one, a number is
//!   written as Rust's shortest form of it and a text as it is.
//!
//! Used by the book's preprocessor and, through `#[path]`, by the crate's test
//! that every directive of every page names a key that a summary holds.

use serde_json::{Map, Value};

/// How a number is written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Shortest,
    Fixed(usize),
    Thousands(usize),
    Percent(usize),
    Scientific(usize),
}

/// One `{{#value …}}` in a page: where it is and what it asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    /// Byte range of the whole `{{#value …}}` in the page.
    pub span: std::ops::Range<usize>,
    /// Line number (from 1), for messages.
    pub line: usize,
    pub figures: String,
    /// One key, or two for a ratio.
    pub keys: Vec<String>,
    pub format: Format,
}

const OPEN: &str = "{{#value ";

/// Every directive of `page`, or the first one that cannot be read.
pub fn directives(page: &str) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = page[from..].find(OPEN) {
        let start = from + at;
        let line = page[..start].matches('\n').count() + 1;
        let end = page[start..]
            .find("}}")
            .map(|e| start + e + 2)
            .ok_or_else(|| format!("line {line}: `{{{{#value` without its closing `}}}}`"))?;
        let inner = &page[start + OPEN.len()..end - 2];
        let (figures, keys, format) =
            parse(inner).map_err(|e| format!("line {line}: `{}`: {e}", &page[start..end]))?;
        out.push(Directive {
            span: start..end,
            line,
            figures,
            keys,
            format,
        });
        from = end;
    }
    Ok(out)
}

/// `FIGURES "KEY" [/ "KEY"] [FORMAT]`.
fn parse(inner: &str) -> Result<(String, Vec<String>, Format), String> {
    let inner = inner.trim();
    let (figures, mut rest) = inner
        .split_once(' ')
        .ok_or("expected a figures folder and a quoted key")?;
    let mut keys = Vec::new();
    loop {
        rest = rest.trim_start();
        let body = rest.strip_prefix('"').ok_or("expected a key in double quotes")?;
        let close = body.find('"').ok_or("a key's closing quote is missing")?;
        keys.push(body[..close].to_string());
        rest = body[close + 1..].trim_start();
        match rest.strip_prefix('/') {
            Some(after) if keys.len() == 1 => rest = after,
            Some(_) => return Err("at most one `/`: a ratio of two keys".into()),
            None => break,
        }
    }
    let digits = |s: &str| s.parse::<usize>().map_err(|_| format!("unknown format `{rest}`"));
    let format = if rest.is_empty() {
        Format::Shortest
    } else if let Some(n) = rest.strip_prefix(",.") {
        Format::Thousands(digits(n)?)
    } else if let Some(n) = rest.strip_prefix("%.") {
        Format::Percent(digits(n)?)
    } else if let Some(n) = rest.strip_prefix("e.") {
        Format::Scientific(digits(n)?)
    } else if let Some(n) = rest.strip_prefix('.') {
        Format::Fixed(digits(n)?)
    } else {
        return Err(format!("unknown format `{rest}` (expected .N, ,.N, %.N or e.N)"));
    };
    Ok((figures.to_string(), keys, format))
}

/// The text `d` stands for, given its summary's `values`.
pub fn resolve(d: &Directive, values: &Map<String, Value>) -> Result<String, String> {
    let get = |key: &str| {
        values.get(key).ok_or_else(|| {
            format!(
                "line {}: the {} summary holds no key \"{key}\"",
                d.line, d.figures
            )
        })
    };
    let first = get(&d.keys[0])?;
    if let (Value::String(text), 1, Format::Shortest) = (first, d.keys.len(), d.format) {
        return Ok(text.clone());
    }
    let number = |key: &str, v: &Value| {
        v.as_f64().ok_or_else(|| {
            format!(
                "line {}: \"{key}\" of the {} summary is not a number",
                d.line, d.figures
            )
        })
    };
    let mut x = number(&d.keys[0], first)?;
    if let Some(key) = d.keys.get(1) {
        x /= number(key, get(key)?)?;
    }
    Ok(match d.format {
        Format::Shortest => format!("{x}"),
        Format::Fixed(n) => format!("{x:.n$}"),
        Format::Percent(n) => format!("{:.n$}", 100.0 * x),
        Format::Scientific(n) => format!("{x:.n$e}"),
        Format::Thousands(n) => thousands(&format!("{x:.n$}")),
    })
}

/// "1234567.5" → "1,234,567.5".
fn thousands(fixed: &str) -> String {
    let (sign, body) = fixed.strip_prefix('-').map_or(("", fixed), |b| ("-", b));
    let (int, frac) = body.split_once('.').map_or((body, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A summary's `values`, or why they could not be read.
pub type Values = Result<Map<String, Value>, String>;

/// The values a page can quote from the folder `dir`: the `values` of its
/// `summary.json` and, if the folder has one, of its `measured.json` (a key
/// both hold is an error: the page could not say which it means).
pub fn folder_values(dir: &std::path::Path) -> Values {
    let read = |name: &str| -> Result<Option<Map<String, Value>>, String> {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if name == MEASURED && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let json: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        match json.get("values") {
            Some(Value::Object(values)) => Ok(Some(values.clone())),
            _ => Err(format!("{}: no \"values\" object", path.display())),
        }
    };
    let mut values = read("summary.json")?.unwrap_or_default();
    for (key, value) in read(MEASURED)?.unwrap_or_default() {
        if values.contains_key(&key) {
            return Err(format!(
                "{}: \"{key}\" is in both summary.json and {MEASURED}",
                dir.display()
            ));
        }
        values.insert(key, value);
    }
    Ok(values)
}

/// The file of a folder's committed wall-clock values.
const MEASURED: &str = "measured.json";

/// `page` with every directive replaced, `values_of` giving a figures folder's
/// `values`; or every problem found (not only the first).
pub fn expand(page: &str, values_of: &mut dyn FnMut(&str) -> Values) -> Result<String, Vec<String>> {
    let found = directives(page).map_err(|e| vec![e])?;
    let (mut out, mut last, mut problems) = (String::with_capacity(page.len()), 0, Vec::new());
    for d in &found {
        out.push_str(&page[last..d.span.start]);
        match values_of(&d.figures).and_then(|values| resolve(d, &values)) {
            Ok(text) => out.push_str(&text),
            Err(e) => problems.push(if e.starts_with("line ") {
                e
            } else {
                format!("line {}: {e}", d.line)
            }),
        }
        last = d.span.end;
    }
    out.push_str(&page[last..]);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Map<String, Value> {
        serde_json::from_str(
            r#"{"loss": 0.31650147, "tokens/s": 16813.2, "share": 0.2876, "sample": "In the box", "n": 3}"#,
        )
        .unwrap()
    }

    fn run(page: &str) -> Result<String, Vec<String>> {
        expand(page, &mut |figures| {
            if figures == "ch05" {
                Ok(values())
            } else {
                Err(format!("no summary for {figures}"))
            }
        })
    }

    #[test]
    fn numbers_are_formatted_as_asked() {
        let page = "a {{#value ch05 \"loss\" .3}} b {{#value ch05 \"tokens/s\" ,.0}} c \
                    {{#value ch05 \"share\" %.1}} d {{#value ch05 \"n\"}} e {{#value ch05 \"sample\"}}.";
        assert_eq!(run(page).unwrap(), "a 0.317 b 16,813 c 28.8 d 3 e In the box.");
        assert_eq!(run("{{#value ch05 \"tokens/s\" / \"n\" .1}}").unwrap(), "5604.4");
        assert_eq!(
            run("{{#value ch05 \"loss\" e.1}} {{#value ch05 \"tokens/s\" e.2}}").unwrap(),
            "3.2e-1 1.68e4"
        );
        assert_eq!(thousands("-1234567.25"), "-1,234,567.25");
        assert_eq!(thousands("999"), "999");
    }

    /// A folder's values are its summary's and its measurement's; a folder
    /// without a measurement has its summary's only; a key in both is refused.
    #[test]
    fn a_folder_quotes_its_summary_and_its_measurement() {
        let dir = std::env::temp_dir().join(format!("mdbook-mathml-values-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write(
            "summary.json",
            r#"{"values": {"loss": 0.5, "sample": "In the box"}}"#,
        );
        let only = folder_values(&dir).unwrap();
        assert_eq!(only.len(), 2);
        write(
            "measured.json",
            r#"{"machine": "x", "values": {"tokens/s": 1234.5}}"#,
        );
        let both = folder_values(&dir).unwrap();
        assert_eq!(both["loss"], 0.5);
        assert_eq!(both["tokens/s"], 1234.5);
        assert_eq!(both.len(), 3);
        write("measured.json", r#"{"values": {"loss": 0.7}}"#);
        assert!(folder_values(&dir).unwrap_err().contains("\"loss\" is in both"));
        std::fs::remove_file(dir.join("summary.json")).unwrap();
        assert!(folder_values(&dir).unwrap_err().contains("summary.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let page = "ok {{#value ch05 \"loss\" .1}}\n{{#value ch05 \"lost\" .1}}\n{{#value ch09 \"loss\"}}\n\
                    {{#value ch05 \"sample\" .2}}";
        let problems = run(page).unwrap_err();
        assert_eq!(
            problems,
            [
                "line 2: the ch05 summary holds no key \"lost\"",
                "line 3: no summary for ch09",
                "line 4: \"sample\" of the ch05 summary is not a number",
            ]
        );
        assert!(run("{{#value ch05 loss}}").unwrap_err()[0].contains("expected a key in double quotes"));
        assert!(run("{{#value ch05 \"loss\" 2f}}").unwrap_err()[0].contains("unknown format"));
        assert!(run("x\n{{#value ch05 \"loss\"").unwrap_err()[0].starts_with("line 2:"));
    }
}
