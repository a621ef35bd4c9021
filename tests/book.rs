//! The book's references, checked without mdBook.
//!
//! mdBook only warns about an `{{#include}}` whose file is missing, includes
//! nothing for an anchor that does not exist, and happily links to an image that
//! is not there. This test turns each of those into a failure naming the page and
//! line, so a renamed source file or a forgotten figure breaks `cargo test`:
//!
//! * every `{{#include path}}`, `{{#include path:anchor}}`, `{{#include path:N:M}}`,
//!   `{{#rustdoc_include …}}` and `{{#playground …}}` names an existing file, and
//!   an anchor has both its `ANCHOR: name` and `ANCHOR_END: name` lines, in order;
//! * every image (`![alt](path)`, `<img src>`, `<object data>`, `<embed src>`),
//!   script (`<script src>`), stylesheet (`<link href>`) and every relative link
//!   exists, and no image, script or stylesheet comes from the network;
//! * every `SUMMARY.md` entry has its page, and every page is in `SUMMARY.md`.
//!
//! The second test runs the checker on a small broken book to show that it fails.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// The `{{#value …}}` directives, as the book's preprocessor reads them.
#[path = "../tools/mdbook-mathml/src/values.rs"]
#[allow(dead_code)]
mod values;

#[test]
fn the_book_has_no_broken_reference() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let problems = check_book(&src);
    assert!(
        problems.is_empty(),
        "the book has {} broken reference(s):\n{}",
        problems.len(),
        report(&problems)
    );
}

/// Every number a page quotes from a run comes from a `summary.json` (or, for
/// a wall-clock value, the `measured.json` beside it) at build time
/// (`{{#value ch05 "key" .2}}`); a page that names a key no summary holds, or a
/// text where it formats a number, fails here, not only in `mdbook build`.
/// The README is not built by mdBook, so its headline numbers are typed; each
/// is followed by the directive it stands for, in an HTML comment that GitHub
/// does not show (`1.77 <!-- {{#value ch05/tinyshakespeare "final val loss" .2}} -->`).
/// This test expands each directive and fails when the number before it
/// differs: a rerun that moves a headline number breaks `cargo test` until
/// the README says it (`python3 tools/refresh_readme.py` rewrites them).
#[test]
fn the_readme_quotes_its_numbers_from_the_summaries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let src = root.join("book/src");
    let found = values::directives(&readme).expect("the README's directives parse");
    let mut problems = Vec::new();
    let mut checked = 0;
    for d in &found {
        let text = &readme[d.span.clone()];
        let before = readme[..d.span.start].trim_end();
        if before.ends_with('`') {
            continue; // the syntax shown as an example, in a code span
        }
        let Some(comment) = before.strip_suffix("<!--") else {
            problems.push(format!("line {}: {text} is not inside an HTML comment", d.line));
            continue;
        };
        let want = values::folder_values(&src.join("figures").join(&d.figures))
            .and_then(|v| values::resolve(d, &v))
            .unwrap_or_else(|e| panic!("README line {}: {e}", d.line));
        checked += 1;
        let typed = comment
            .trim_end()
            .rsplit(char::is_whitespace)
            .next()
            .unwrap_or("");
        if typed != want {
            problems.push(format!(
                "line {}: the README says {typed}, the summary gives {want} ({text})",
                d.line
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 0, "the README quotes no number from a summary");
}

#[test]
fn every_quoted_value_is_in_a_summary() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src");
    let mut pages = Vec::new();
    markdown_files(&src, &mut pages);
    let (mut problems, mut quoted) = (Vec::new(), 0);
    for page in &pages {
        let text = fs::read_to_string(page).unwrap();
        quoted += values::directives(&text).map_or(0, |d| d.len());
        let mut values_of = |folder: &str| values::folder_values(&src.join("figures").join(folder));
        if let Err(found) = values::expand(&text, &mut values_of) {
            let name = page.strip_prefix(&src).unwrap().display().to_string();
            problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(quoted > 0, "no page quotes a value: the check checked nothing");
}

/// Every internal link and `#anchor` of the built book resolves: a heading
/// renamed on one page breaks the links to it from others, which mdBook does
/// not notice. Needs the book built first (`mdbook build book`, as `.ci/run`
/// does before it runs this test), hence ignored by a plain `cargo test`:
///
///     cargo test --release --test book -- --ignored built_book_links
#[test]
#[ignore = "needs the built book (book/book): run `mdbook build book` first"]
fn built_book_links() {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/book");
    if !built.join("index.html").is_file() {
        eprintln!(
            "skipped: {} holds no built book; run `$(book/ensure-mdbook.sh) build book` first",
            built.display()
        );
        return;
    }
    let problems = check_built_links(&built);
    assert!(
        problems.is_empty(),
        "the built book has {} broken link(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_built_link_checker_finds_dead_links_and_anchors() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("built-book-fixture");
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("sub")).unwrap();
    let write = |path: &str, text: &str| fs::write(root.join(path), text).unwrap();
    write(
        "index.html",
        "<h2 id=\"top\">Top</h2><a href=\"#top\">ok</a> <a href=\"#gone\">dead anchor</a>\n\
         <a href=\"sub/page.html#caf%C3%A9\">ok, encoded</a> <a href=\"sub/page.html#nope\">dead anchor</a>\n\
         <a href=\"missing.html\">dead page</a> <a href=\"https://example.org/x.html\">outside</a>\n\
         <a href=\"mailto:a@b.c\">mail</a> <img src=\"sub/pic.svg\"> <a href=\"sub/\">folder</a>\n\
         <a href=\"/sub/page.html#café\">from the root</a>\n",
    );
    write(
        "sub/page.html",
        "<p id=\"café\">x</p><a href=\"../index.html?q=1#top\">ok</a><a href='../index.html#lost'>dead</a>",
    );
    write("sub/index.html", "<p>x</p>");
    let problems = check_built_links(&root);
    let text = problems.join("\n");
    let expect = [
        "index.html: `#gone`: no element with id `gone` in index.html",
        "index.html: `sub/page.html#nope`: no element with id `nope` in sub/page.html",
        "index.html: `missing.html`: no such file",
        "index.html: `sub/pic.svg`: no such file",
        "sub/page.html: `../index.html#lost`: no element with id `lost` in index.html",
    ];
    for e in expect {
        assert!(text.contains(e), "expected\n  {e}\nin:\n{text}");
    }
    assert_eq!(problems.len(), expect.len(), "unexpected problems:\n{text}");
}

/// Broken internal links of the HTML files under `built`, as `page: `link`: why`.
fn check_built_links(built: &Path) -> Vec<String> {
    let mut pages = Vec::new();
    html_files(built, &mut pages);
    pages.sort();
    let mut ids = std::collections::HashMap::new();
    let mut problems = Vec::new();
    for page in &pages {
        let text = fs::read_to_string(page).unwrap();
        let name = page
            .strip_prefix(built)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for target in attr_values(&text, "href")
            .into_iter()
            .chain(attr_values(&text, "src"))
        {
            let target = target.replace("&amp;", "&");
            if target.is_empty()
                || target.contains("://")
                || target.starts_with("//")
                || ["mailto:", "javascript:", "data:"]
                    .iter()
                    .any(|p| target.starts_with(p))
            {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let path = path.split('?').next().unwrap();
            let file = if path.is_empty() {
                page.clone()
            } else {
                // `/…` is the book's root (mdBook's 404 page links so).
                let base = if path.starts_with('/') {
                    built
                } else {
                    page.parent().unwrap()
                };
                let f = base.join(percent_decode(path.trim_start_matches('/')));
                if f.is_dir() { f.join("index.html") } else { f }
            };
            if !file.is_file() {
                problems.push(format!("{name}: `{target}`: no such file"));
                continue;
            }
            let Some(anchor) = anchor.filter(|a| !a.is_empty()) else {
                continue;
            };
            let file = file.canonicalize().unwrap();
            let known = ids.entry(file.clone()).or_insert_with(|| {
                let html = fs::read_to_string(&file).unwrap_or_default();
                let mut found = attr_values(&html, "id");
                found.extend(attr_values(&html, "name"));
                found
            });
            let anchor = percent_decode(anchor);
            if !known.contains(&anchor) {
                let shown = file
                    .strip_prefix(built.canonicalize().unwrap())
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_else(|_| file.display().to_string());
                problems.push(format!(
                    "{name}: `{target}`: no element with id `{anchor}` in {shown}"
                ));
            }
        }
    }
    problems
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            html_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "html") {
            out.push(path);
        }
    }
}

/// The values of every `attr="…"` (or `attr='…'`) in `html`, in order.
fn attr_values(html: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for quote in ['"', '\''] {
        let key = format!("{attr}={quote}");
        for (i, _) in html.match_indices(&key) {
            let before = html[..i].chars().next_back();
            if !before.is_some_and(char::is_whitespace) {
                continue; // `data-href=`, not `href=`
            }
            let value = &html[i + key.len()..];
            if let Some(end) = value.find(quote) {
                out.push(value[..end].to_string());
            }
        }
    }
    out
}

/// `%C3%A9` → `é` (links in the built pages are percent-encoded UTF-8).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn the_checker_finds_each_kind_of_problem() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("book-check-fixture");
    let _ = fs::remove_dir_all(&root);
    let src = root.join("book/src");
    fs::create_dir_all(src.join("figures")).unwrap();
    fs::create_dir_all(root.join("code")).unwrap();
    let write = |path: &Path, text: &str| fs::write(path, text).unwrap();
    write(
        &src.join("figures/ok.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    );
    write(
        &root.join("code/lib.rs"),
        "fn a() {}\n// ANCHOR: good\nfn b() {}\n// ANCHOR_END: good\n// ANCHOR_END: backwards\n// ANCHOR: backwards\n// ANCHOR: open\n",
    );
    write(
        &src.join("SUMMARY.md"),
        "# Summary\n\n[Intro](intro.md)\n\n- [Chapter](chapter.md)\n  - [Missing](missing.md)\n- [Draft]()\n",
    );
    write(
        &src.join("intro.md"),
        "# Intro\n\nSee [the chapter](chapter.md#top) and ![ok](figures/ok.svg).\n",
    );
    write(
        &src.join("chapter.md"),
        "# Chapter\n\
         \n\
         ```rust\n\
         {{#include ../../code/lib.rs:good}}\n\
         {{#include ../../code/lib.rs:nope}}\n\
         {{#include ../../code/gone.rs}}\n\
         {{#rustdoc_include ../../code/lib.rs:backwards}}\n\
         {{#include ../../code/lib.rs:open}}\n\
         {{#include ../../code/lib.rs:2:3}}\n\
         {{#include ../../code/lib.rs:50:}}\n\
         ![not an image inside code](figures/nothing.png)\n\
         ```\n\
         \n\
         \\{{#include escaped/is/not/a/link.rs}} is escaped, so not an include.\n\
         ![a missing figure](figures/missing.svg) and [a dead link](nowhere.md).\n\
         <img src=\"figures/gone.png\" alt=\"x\"> <object data=\"figures/ok.svg\"></object>\n\
         <figure><object type=\"image/svg+xml\" data=\"figures/lost.svg\"></object></figure>\n\
         ![remote](https://example.org/plot.png)\n\
         <script src=\"gone.js\"></script><link rel=\"stylesheet\" href=\"https://cdn.example.org/x.css\">\n",
    );
    write(&src.join("orphan.md"), "# Not in the summary\n");

    let problems = check_book(&src);
    let text = report(&problems);
    let expect = [
        "SUMMARY.md:6: `missing.md` does not exist",
        "SUMMARY.md:7: draft entry `[Draft]()`",
        "chapter.md:5: {{#include ../../code/lib.rs:nope}}: no `ANCHOR: nope` line",
        "chapter.md:6: {{#include ../../code/gone.rs}}:",
        "chapter.md:7: {{#rustdoc_include ../../code/lib.rs:backwards}}: `ANCHOR_END: backwards` comes before",
        "chapter.md:8: {{#include ../../code/lib.rs:open}}: no `ANCHOR_END: open` line",
        "chapter.md:10: {{#include ../../code/lib.rs:50:}}: starts at line 50",
        "chapter.md:15: image `figures/missing.svg` does not exist",
        "chapter.md:15: link `nowhere.md` does not exist",
        "chapter.md:16: image `figures/gone.png` does not exist",
        "chapter.md:17: image `figures/lost.svg` does not exist",
        "chapter.md:18: image `https://example.org/plot.png` is fetched from the network",
        "chapter.md:19: script `gone.js` does not exist",
        "chapter.md:19: stylesheet `https://cdn.example.org/x.css` is fetched from the network",
        "orphan.md: the page is not listed in SUMMARY.md",
    ];
    for e in expect {
        assert!(
            text.contains(e),
            "expected a problem containing\n  {e}\nin:\n{text}"
        );
    }
    assert_eq!(problems.len(), expect.len(), "unexpected problems:\n{text}");
    // Each problem names the page's path, so it can be opened straight away.
    assert!(
        text.contains(&format!("{}:5:", src.join("chapter.md").display())),
        "{text}"
    );
}

/// One broken reference: the page, the line (0 for the page as a whole), and what is wrong.
struct Problem {
    file: PathBuf,
    line: usize,
    what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file.display(), self.what),
            n => write!(f, "{}:{}: {}", self.file.display(), n, self.what),
        }
    }
}

fn report(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}\n")).collect()
}

/// Checks the book whose `SUMMARY.md` is in `src`.
fn check_book(src: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let summary = src.join("SUMMARY.md");
    let Ok(summary_text) = fs::read_to_string(&summary) else {
        problems.push(Problem {
            file: summary,
            line: 0,
            what: "cannot read SUMMARY.md".into(),
        });
        return problems;
    };
    let mut listed = Vec::new();
    for (n, line) in summary_text.lines().enumerate() {
        for link in markdown_links(&strip_code_spans(line)) {
            if link.image {
                continue;
            }
            if link.target.is_empty() {
                problems.push(Problem {
                    file: summary.clone(),
                    line: n + 1,
                    what: format!("draft entry `[{}]()`: every entry needs its page", link.text),
                });
                continue;
            }
            let page = src.join(&link.target);
            if page.is_file() {
                listed.push(page.canonicalize().unwrap());
            } else {
                problems.push(Problem {
                    file: summary.clone(),
                    line: n + 1,
                    what: format!("`{}` does not exist", link.target),
                });
            }
        }
    }
    let mut pages = Vec::new();
    markdown_files(src, &mut pages);
    pages.sort();
    for page in pages {
        if page.file_name().is_some_and(|n| n == "SUMMARY.md") {
            continue;
        }
        if !listed.contains(&page.canonicalize().unwrap()) {
            problems.push(Problem {
                file: page.clone(),
                line: 0,
                what: "the page is not listed in SUMMARY.md (mdBook would not build it)".into(),
            });
        }
        check_page(&page, &mut problems);
    }
    problems
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Checks the includes, images and links of one page.
fn check_page(page: &Path, problems: &mut Vec<Problem>) {
    let text = fs::read_to_string(page).unwrap();
    let dir = page.parent().unwrap();
    let mut fence: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let mut problem = |what: String| {
            problems.push(Problem {
                file: page.to_path_buf(),
                line: n + 1,
                what,
            })
        };
        // mdBook expands includes everywhere, inside code blocks too.
        for (directive, args) in includes(line) {
            if let Err(e) = check_include(dir, args) {
                problem(format!("{{{{#{directive} {args}}}}}: {e}"));
            }
        }
        // Images and links only count outside code.
        let trimmed = line.trim_start();
        if let Some(open) = &fence {
            if trimmed.starts_with(open.as_str()) && trimmed.trim_start_matches(['`', '~']).trim().is_empty()
            {
                fence = None;
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let c = trimmed.chars().next().unwrap();
            fence = Some(trimmed.chars().take_while(|&x| x == c).collect());
            continue;
        }
        let line = strip_code_spans(line);
        // (what it is, whether the page loads it, where it points)
        let mut refs: Vec<(&str, bool, String)> = markdown_links(&line)
            .into_iter()
            .map(|l| {
                let kind = if l.image { "image" } else { "link" };
                (kind, l.image, l.target)
            })
            .collect();
        let loaded = [
            ("image", "img", "src"),
            ("image", "object", "data"),
            ("image", "embed", "src"),
            ("script", "script", "src"),
            ("stylesheet", "link", "href"),
        ];
        for (kind, tag, attr) in loaded {
            refs.extend(html_attrs(&line, tag, attr).into_iter().map(|t| (kind, true, t)));
        }
        for (kind, loads, target) in refs {
            if target.contains("://") || target.starts_with("//") {
                if loads {
                    problem(format!(
                        "{kind} `{target}` is fetched from the network: ship it in the book"
                    ));
                }
                continue;
            }
            let path = target.split(['#', '?']).next().unwrap();
            if path.is_empty() || target.starts_with("mailto:") {
                continue;
            }
            if !dir.join(path).exists() {
                problem(format!("{kind} `{target}` does not exist"));
            }
        }
    }
}

/// The `{{#directive args}}` of a line that include a file (escaped ones excluded).
fn includes(line: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{#") {
        let escaped = rest[..start].ends_with('\\');
        let body = &rest[start + 3..];
        let Some(end) = body.find("}}") else { break };
        let inner = body[..end].trim();
        let (directive, args) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
        if !escaped && matches!(directive, "include" | "rustdoc_include" | "playground") {
            out.push((directive, args.trim()));
        }
        rest = &body[end + 2..];
    }
    out
}

/// Checks `path[:anchor]` or `path[:start[:end]]` (as mdBook reads them) against the file.
fn check_include(dir: &Path, args: &str) -> Result<(), String> {
    let spec = args.split_whitespace().next().unwrap_or(""); // playground may add attributes
    let mut parts = spec.splitn(3, ':');
    let path = parts.next().unwrap_or("");
    if path.is_empty() {
        return Err("no file named".into());
    }
    let file = dir.join(path);
    let text = fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let first = parts.next().unwrap_or("");
    if first.is_empty() || first.parse::<usize>().is_ok() {
        // A line range: its start must be inside the file.
        let start: usize = first.parse().unwrap_or(1);
        let lines = text.lines().count();
        if start > lines {
            return Err(format!("starts at line {start} but {path} has {lines} lines"));
        }
        return Ok(());
    }
    let anchor = first;
    let begin = marker_line(&text, "ANCHOR:", anchor);
    let end = marker_line(&text, "ANCHOR_END:", anchor);
    match (begin, end) {
        (None, _) => Err(format!("no `ANCHOR: {anchor}` line in {path}")),
        (_, None) => Err(format!("no `ANCHOR_END: {anchor}` line in {path}")),
        (Some(b), Some(e)) if e < b => Err(format!(
            "`ANCHOR_END: {anchor}` comes before `ANCHOR: {anchor}` in {path}"
        )),
        _ => Ok(()),
    }
}

/// Index of the first line holding `marker` followed by the name `anchor` (mdBook's rule).
fn marker_line(text: &str, marker: &str, anchor: &str) -> Option<usize> {
    text.lines().position(|line| {
        line.match_indices(marker).any(|(i, _)| {
            let after = line[i + marker.len()..].trim_start();
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            name == anchor
        })
    })
}

/// Replaces inline code spans by spaces, so their contents are not read as links.
fn strip_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + run..];
        let closing = "`".repeat(run);
        match after.find(&closing) {
            Some(end) => {
                out.push_str(&" ".repeat(run * 2 + end));
                rest = &after[end + run..];
            }
            None => {
                out.push_str(&rest[start..start + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

struct Link {
    image: bool,
    text: String,
    target: String,
}

/// Inline Markdown links and images of a line: `[text](target "title")`.
fn markdown_links(line: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find("](") {
        let close = i + off;
        // Find the matching `[` before `]`.
        let mut depth = 0;
        let mut open = None;
        for j in (0..close).rev() {
            match bytes[j] {
                b']' => depth += 1,
                b'[' if depth == 0 => {
                    open = Some(j);
                    break;
                }
                b'[' => depth -= 1,
                _ => {}
            }
        }
        let after = &line[close + 2..];
        let Some(end) = after.find(')') else { break };
        if let Some(open) = open {
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let target = target.trim_start_matches('<').trim_end_matches('>');
            out.push(Link {
                image: open > 0 && bytes[open - 1] == b'!',
                text: line[open + 1..close].to_string(),
                target: target.to_string(),
            });
        }
        i = close + 2 + end;
    }
    out
}

/// Values of `attr` in the `<tag …>` elements of a line.
fn html_attrs(line: &str, tag: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let open = format!("<{tag}");
    for (i, _) in line.match_indices(&open) {
        let rest = &line[i + open.len()..];
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            continue; // `<images`, not `<img`
        }
        let element = &rest[..rest.find('>').unwrap_or(rest.len())];
        for quote in ['"', '\''] {
            let key = format!("{attr}={quote}");
            let found = element
                .match_indices(&key)
                .find(|(k, _)| *k == 0 || element.as_bytes()[k - 1].is_ascii_whitespace());
            if let Some((k, _)) = found {
                let value = &element[k + key.len()..];
                out.push(value[..value.find(quote).unwrap_or(value.len())].to_string());
            }
        }
    }
    out
}
