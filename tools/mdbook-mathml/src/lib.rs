//! LaTeX math in Markdown, rendered as MathML before mdBook sees the page.
//!
//! [`render_markdown`] finds the formulas of a chapter and replaces each one by a
//! `<math>` element; [`latex_to_mathml`] converts a single formula (with the
//! `pulldown-latex` crate, whose output follows MathML Core, which current
//! Chromium, Firefox and Safari draw natively).
//!
//! What counts as math, as in Pandoc's `tex_math_dollars`:
//!
//! * `$$…$$` is a display formula (it may span lines);
//! * `$…$` is an inline formula when the opening `$` is followed by a non-space,
//!   the closing `$` is preceded by a non-space and not followed by a digit, and
//!   no blank line lies between them, so "from $5 to $10" stays text;
//! * `\$` is a literal dollar (Markdown then prints `$`);
//! * nothing inside a fenced code block, an inline code span or an HTML comment
//!   is touched. (Indented code blocks are not recognised: the book uses fences.)
//!
//! A formula that does not parse is an error naming its line, never a silent
//! red box in the page.
//!
//! One more chore is done on the way, because no other step can: fenced code
//! blocks lose the indentation all their lines share (see [`render_markdown`]).
//! And before the math, [`values`] puts in the numbers that pages quote from
//! the chapter programs' summaries (`{{#value ch05 "key" .2}}`).

pub mod values;

use pulldown_latex::config::DisplayMode;
use pulldown_latex::{Parser, RenderConfig, Storage, push_mathml};
use std::fmt;

/// A formula that could not be rendered, with the line (1-based) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct MathError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for MathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

impl std::error::Error for MathError {}

/// Converts one LaTeX formula into a `<math>` element on a single line, safe to
/// drop into Markdown (see [`protect`]).
pub fn latex_to_mathml(latex: &str, display: bool) -> Result<String, String> {
    let storage = Storage::new();
    let events: Vec<_> = Parser::new(latex, &storage).collect();
    for event in &events {
        if let Err(e) = event {
            // The parser's message ends with a drawing of the context: keep the first line.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("parse error");
            return Err(format!("{first} in `{}`", latex.trim()));
        }
    }
    let config = RenderConfig {
        display_mode: if display {
            DisplayMode::Block
        } else {
            DisplayMode::Inline
        },
        ..RenderConfig::default()
    };
    let mut mathml = String::new();
    push_mathml(&mut mathml, events.into_iter(), config).map_err(|e| e.to_string())?;
    // pulldown-latex 0.8 also escapes the entity it writes for `\ ` (a space).
    let mathml = separate_attributes(&mathml).replace("&amp;nbsp;", "\u{a0}");
    Ok(protect(&mathml))
}

/// `pulldown-latex` 0.8 writes some sized delimiters (`\big(`) with two attributes
/// run together, `stretchy="true"minsize="1.2em"`, which is not valid HTML:
/// put a space after every attribute value that is directly followed by a name.
fn separate_attributes(mathml: &str) -> String {
    let mut out = String::with_capacity(mathml.len() + 8);
    let (mut in_tag, mut in_value) = (false, false);
    let mut chars = mathml.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '<' if !in_value => in_tag = true,
            '>' if !in_value => in_tag = false,
            '"' if in_tag => {
                in_value = !in_value;
                if !in_value && chars.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
                    out.push(' ');
                }
            }
            _ => {}
        }
    }
    out
}

/// The element names `pulldown-latex` writes. A `<` followed by anything else is text.
const MATHML_TAGS: &[&str] = &[
    "math",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "mrow",
    "mfrac",
    "msqrt",
    "mroot",
    "msub",
    "msup",
    "msubsup",
    "munder",
    "mover",
    "munderover",
    "mmultiscripts",
    "mprescripts",
    "none",
    "mtable",
    "mtr",
    "mtd",
    "mstyle",
    "mpadded",
    "mphantom",
    "menclose",
    "merror",
    "semantics",
    "annotation",
];

/// Makes rendered MathML survive the Markdown parser that runs after us.
///
/// Markdown passes tags through, but reads the text between them as Markdown:
/// `<mo>*</mo>…<mo>*</mo>` would become emphasis, `'` a curly quote, `|` a table
/// cell. So every ASCII punctuation character in text is written as a numeric
/// character reference, bare `<`, `>` and `&` (the renderer writes `<mo><</mo>`)
/// are escaped, and newlines become spaces so the element stays on one line.
pub fn protect(mathml: &str) -> String {
    let mut out = String::with_capacity(mathml.len() + mathml.len() / 8);
    let mut rest = mathml;
    while let Some(c) = rest.chars().next() {
        let markup = match c {
            '<' => tag_len(rest),
            '&' => entity_len(rest),
            _ => None,
        };
        if let Some(len) = markup {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        match c {
            '\n' | '\r' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if c.is_ascii_punctuation() => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Length of the MathML tag `s` starts with, if it starts with one.
fn tag_len(s: &str) -> Option<usize> {
    let start = if s.starts_with("</") { 2 } else { 1 };
    let name_len = s[start..].bytes().take_while(u8::is_ascii_alphanumeric).count();
    let name = &s[start..start + name_len];
    let after = s.as_bytes().get(start + name_len)?;
    if !MATHML_TAGS.contains(&name) || !matches!(after, b' ' | b'>' | b'/') {
        return None;
    }
    s.find('>').map(|end| end + 1)
}

/// Length of the character reference (`&nbsp;`, `&#8722;`) `s` starts with, if any.
fn entity_len(s: &str) -> Option<usize> {
    let body = &s[1..];
    let len = body
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'#')
        .count();
    (len > 0 && body.as_bytes().get(len) == Some(&b';')).then_some(len + 2)
}

/// Renders every formula of a Markdown page; see the crate documentation for the rules.
///
/// It also removes the indentation that all lines of a fenced code block share
/// beyond the fence's own: mdBook keeps the indentation of code included by
/// anchor (`{{#include file.rs:name}}`), which would push a loop taken from inside
/// a method eight spaces to the right.
pub fn render_markdown(src: &str) -> Result<String, MathError> {
    let mut out = String::with_capacity(src.len() * 2);
    let mut text = String::new(); // Markdown outside code blocks, waiting to be rendered
    let mut text_line = 1; // the line `text` starts on
    let mut fence: Option<(u8, usize)> = None;
    let mut fence_indent = None; // spaces before the opening fence (None in a blockquote)
    let mut code: Vec<&str> = Vec::new(); // the lines of the open code block
    for (i, line) in src.split_inclusive('\n').enumerate() {
        match fence {
            Some(open) => {
                if closes_fence(line, open) {
                    out.push_str(&dedent(&code, fence_indent));
                    code.clear();
                    out.push_str(line);
                    fence = None;
                    text_line = i + 2;
                } else {
                    code.push(line);
                }
            }
            None => {
                if let Some(open) = opens_fence(line) {
                    out.push_str(&render_text(&text, text_line)?);
                    text.clear();
                    out.push_str(line);
                    fence = Some(open);
                    let spaces = line.len() - line.trim_start_matches(' ').len();
                    fence_indent = (!line[spaces..].starts_with(['>', '\t'])).then_some(spaces);
                } else {
                    text.push_str(line);
                }
            }
        }
    }
    code.iter().for_each(|line| out.push_str(line)); // a block never closed: as it was
    out.push_str(&render_text(&text, text_line)?);
    Ok(out)
}

/// The lines of a code block without the spaces they all share beyond `indent`
/// (the fence's own indentation, which Markdown already takes off).
fn dedent(lines: &[&str], indent: Option<usize>) -> String {
    let spaces = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let blank = |l: &str| l.trim().is_empty();
    let shared = match indent {
        Some(f) => lines
            .iter()
            .filter(|l| !blank(l))
            .map(|l| spaces(l).saturating_sub(f))
            .min()
            .unwrap_or(0),
        None => 0,
    };
    let f = indent.unwrap_or(0);
    let mut out = String::new();
    for line in lines {
        if shared == 0 {
            out.push_str(line);
        } else if blank(line) {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            out.push_str(&line[..f]);
            out.push_str(&line[f + shared..]);
        }
    }
    out
}

/// The part of a line that may hold a fence: after indentation and blockquote markers.
fn fence_part(line: &str) -> &str {
    line.trim_start_matches([' ', '\t', '>'])
}

/// `Some((char, length))` if the line opens a fenced code block.
fn opens_fence(line: &str) -> Option<(u8, usize)> {
    let s = fence_part(line);
    let c = *s.as_bytes().first()?;
    if c != b'`' && c != b'~' {
        return None;
    }
    let n = s.bytes().take_while(|&b| b == c).count();
    // A backtick fence's info string has no backtick (else it is an inline code span).
    (n >= 3 && !(c == b'`' && s[n..].contains('`'))).then_some((c, n))
}

fn closes_fence(line: &str, (c, n): (u8, usize)) -> bool {
    let s = fence_part(line);
    let run = s.bytes().take_while(|&b| b == c).count();
    run >= n && s[run..].trim().is_empty()
}

/// Renders the formulas in Markdown text that holds no fenced code block.
fn render_text(text: &str, first_line: usize) -> Result<String, MathError> {
    let b = text.as_bytes();
    let line_at = |i: usize| first_line + b[..i].iter().filter(|&&c| c == b'\n').count();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // text[..copied] is already in `out`
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2, // an escaped character, `\$` included
            b'`' => {
                let n = run_len(b, i, b'`');
                i = match find_backtick_run(b, i + n, n) {
                    Some(end) => end + n, // skip the whole code span
                    None => i + n,
                };
            }
            b'<' if text[i..].starts_with("<!--") => {
                i = text[i..].find("-->").map_or(b.len(), |end| i + end + 3);
            }
            b'$' if b.get(i + 1) == Some(&b'$') => {
                let Some(end) = find_display_end(b, i + 2) else {
                    return Err(MathError {
                        line: line_at(i),
                        message: "`$$` opens a display formula that is never closed".into(),
                    });
                };
                let mathml = latex_to_mathml(&text[i + 2..end], true).map_err(|message| MathError {
                    line: line_at(i),
                    message,
                })?;
                out.push_str(&text[copied..i]);
                out.push_str(&mathml);
                i = end + 2;
                copied = i;
            }
            b'$' => match find_inline_end(b, i) {
                Some(end) => {
                    let mathml = latex_to_mathml(&text[i + 1..end], false).map_err(|message| MathError {
                        line: line_at(i),
                        message,
                    })?;
                    out.push_str(&text[copied..i]);
                    out.push_str(&mathml);
                    i = end + 1;
                    copied = i;
                }
                None => i += 1, // a lone dollar: plain text
            },
            _ => i += 1,
        }
    }
    out.push_str(&text[copied.min(text.len())..]);
    Ok(out)
}

fn run_len(b: &[u8], start: usize, c: u8) -> usize {
    b[start..].iter().take_while(|&&x| x == c).count()
}

/// Start of the next run of exactly `n` backticks at or after `from`.
fn find_backtick_run(b: &[u8], from: usize, n: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        if b[i] == b'`' {
            let m = run_len(b, i, b'`');
            if m == n {
                return Some(i);
            }
            i += m;
        } else {
            i += 1;
        }
    }
    None
}

/// Index of the `$$` closing a display formula whose body starts at `from`.
fn find_display_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'$' if b[i + 1] == b'$' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Index of the `$` closing an inline formula opened at `open`, if the rules allow one.
fn find_inline_end(b: &[u8], open: usize) -> Option<usize> {
    let first = *b.get(open + 1)?;
    if first.is_ascii_whitespace() {
        return None;
    }
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'$' => {
                let before = b[i - 1];
                let after = b.get(i + 1).copied().unwrap_or(b' ');
                if i > open + 1 && !before.is_ascii_whitespace() && !after.is_ascii_digit() {
                    return Some(i);
                }
                return None; // "$5 and $" or "$ x$": not a formula
            }
            b'\n' if blank_line_follows(b, i + 1) => return None,
            _ => i += 1,
        }
    }
    None
}

/// Whether the line starting at `i` is empty or all spaces.
fn blank_line_follows(b: &[u8], i: usize) -> bool {
    b[i..]
        .iter()
        .take_while(|&&c| c != b'\n')
        .all(|c| c.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formulas the book needs (from the RNN and Transformer chapters and the appendix).
    const BOOK_FORMULAS: &[&str] = &[
        r"h_t=f(Ux_t+Wh_{t-1}+b)",
        r"y_t=\mathrm{softmax}(Vh_t+c)",
        r"\tilde{e}_t=e_t+p_t",
        r"A=\mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right)",
        r"\tilde{C}=\mathrm{ReLU}(CW_1+b_1)W_2+b_2",
        r"\frac{\partial L}{\partial h_{t-k}}",
        r"\hat{x}=\frac{x-\mu}{\sqrt{\sigma^2+\epsilon}}",
        r"PE_{(pos,2i)}=\sin(pos/10000^{2i/d})",
        r"Q=\tilde{E}W^Q,\ K=\tilde{E}W^K,\ V=\tilde{E}W^V",
        r"p(x_{t+1}\mid x_1,\dots,x_t)=\prod_{i} p_i",
        r"\sum_{j=1}^{n} a_{ij} = 1,\quad a \odot b,\quad x \cdot y,\quad W \leftarrow W - \eta\,\mathbf{g}",
        r"\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}",
        r"\text{loss} \ge 0 \le 1 < 2 > 1",
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
    ];

    #[test]
    fn a_control_space_is_a_space_not_an_entity_name() {
        let m = latex_to_mathml(r"a\ b", false).unwrap();
        assert!(!m.contains("nbsp"), "{m}");
        assert!(m.contains('\u{a0}'), "{m}");
    }

    #[test]
    fn sized_delimiters_have_well_formed_attributes() {
        let m = latex_to_mathml(r"\mathrm{diag}\big(f'(a_s)\big)", true).unwrap();
        assert!(!m.contains("\"minsize"), "attributes run together: {m}");
        assert!(m.contains("stretchy=\"true\" minsize"), "{m}");
    }

    #[test]
    fn every_book_formula_renders() {
        for latex in BOOK_FORMULAS {
            for display in [false, true] {
                let m = latex_to_mathml(latex, display).unwrap_or_else(|e| panic!("{latex}: {e}"));
                assert!(m.starts_with("<math"), "{m}");
                assert!(m.ends_with("</math>"), "{m}");
                assert!(!m.contains("merror"), "{latex}: {m}");
                assert!(!m.contains('\n'), "{latex}: one line");
            }
        }
    }

    #[test]
    fn structure_of_key_formulas() {
        let m = latex_to_mathml(r"\frac{\partial L}{\partial h_{t-k}}", true).unwrap();
        assert!(
            m.contains(r#"<math display="block">"#) && m.contains("<mfrac>"),
            "{m}"
        );
        assert!(m.contains("<msub><mi>h</mi>"), "{m}");
        let m = latex_to_mathml(r"\tilde{e}_t", false).unwrap();
        // The subscript belongs outside the accent, as in TeX.
        assert!(m.starts_with("<math display=\"inline\"><msub><mover>"), "{m}");
        let m = latex_to_mathml(r"\sqrt{d_k}", false).unwrap();
        assert!(m.contains("<msqrt>"), "{m}");
        let m = latex_to_mathml("a-b", false).unwrap();
        assert!(m.contains("<mo>\u{2212}</mo>"), "a real minus sign: {m}");
    }

    #[test]
    fn text_between_tags_cannot_become_markdown() {
        let m = latex_to_mathml(r"a<b, c>d, x*y*z, f'", false).unwrap();
        assert!(m.contains("<mo>&lt;</mo>") && m.contains("<mo>&gt;</mo>"), "{m}");
        assert!(!m.contains("<mo><") && !m.contains("*"), "{m}");
        for c in ['*', '_', '[', ']', '\'', '|', '`'] {
            let inside_text = m
                .split('>')
                .any(|piece| piece.split('<').next().unwrap().contains(c));
            assert!(!inside_text, "{c} left as text in {m}");
        }
    }

    #[test]
    fn bad_latex_is_an_error_with_its_line() {
        let e = render_markdown("one\ntwo $\\frac{1}{2$ three\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("frac"), "{e}");
        let e = render_markdown("a\n\nb $$x\n\nc\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("never closed"), "{e}");
        assert!(render_markdown(r"$\nosuchcommand x$").is_err());
    }

    #[test]
    fn inline_and_display() {
        let out = render_markdown("Let $h_t$ be\n\n$$\nh_t = 1\n$$\n\nend").unwrap();
        assert!(out.starts_with("Let <math display=\"inline\"><msub><mi>h</mi><mi>t</mi></msub></math> be\n\n<math display=\"block\">"));
        assert!(out.ends_with("</math>\n\nend"), "{out}");
        // Formulas after a fenced block are found too, with the right line numbers.
        let e = render_markdown("```\n$x$\n```\nok $y$\n\n$\\frac{$\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
    }

    #[test]
    fn what_is_not_math() {
        for src in [
            "It costs $5 or $10.",
            "A `$x$` code span and ``a ` $y$`` too.",
            "Escaped \\$x\\$ dollars.",
            "<!-- $x$ in a comment -->",
            "$ x$ has a space after the opening dollar",
            "$x $ has a space before the closing one",
            "$x$1 is followed by a digit",
            "a $x\n\ny$ across a blank line",
            "```rust\nlet s = \"$x$\";\n```\n",
            "~~~~\n$$ not math $$\n```\n$y$\n~~~~\n",
            "> ```\n> $x$\n> ```\n",
        ] {
            assert_eq!(render_markdown(src).unwrap(), src, "changed: {src:?}");
        }
    }

    #[test]
    fn math_next_to_code_and_escapes() {
        let out = render_markdown("`$a$` then $b$, \\$5").unwrap();
        assert!(
            out.starts_with("`$a$` then <math display=\"inline\"><mi>b</mi></math>, \\$5"),
            "{out}"
        );
        let out = render_markdown("$a\nb$").unwrap();
        assert!(
            out.starts_with("<math display=\"inline\">"),
            "an inline formula may wrap a line: {out}"
        );
    }

    #[test]
    fn code_blocks_lose_their_shared_indentation() {
        let included = "```rust\n        for i in 0..n {\n\n            f(i);\n        }\n```\n";
        let expect = "```rust\nfor i in 0..n {\n\n    f(i);\n}\n```\n";
        assert_eq!(render_markdown(included).unwrap(), expect);
        // In a list item the fence's own indentation stays.
        let listed = "1. code:\n   ```\n       x\n         y\n   ```\n";
        assert_eq!(
            render_markdown(listed).unwrap(),
            "1. code:\n   ```\n   x\n     y\n   ```\n"
        );
        // Flush code, blockquotes and unclosed blocks are left alone.
        for src in ["```\nx\n  y\n```\n", "> ```\n>     x\n> ```\n", "```\n    open\n"] {
            assert_eq!(render_markdown(src).unwrap(), src);
        }
    }

    #[test]
    fn protect_keeps_tags_and_entities() {
        assert_eq!(protect("<mtext>if&nbsp;</mtext>"), "<mtext>if&nbsp;</mtext>");
        assert_eq!(protect("<mo>&</mo>"), "<mo>&amp;</mo>");
        assert_eq!(protect("<mo>(</mo>"), "<mo>&#40;</mo>");
        assert_eq!(protect("<mi>x<b</mi>"), "<mi>x&lt;b</mi>");
    }
}
