//! The data of the book's attention explorer, as committed
//! (`book/src/figures/ch02/attention.json`, written by `cargo run --release
//! --bin ch02`), checked against what chapter 2 trains and shows: one causal
//! row of weights per token for every head of the model that read the prompt,
//! answers that point back at the token that really comes next, story prompts
//! that are held-out text of the built-in corpus, and a page that loads the
//! same data and the files it needs.

use serde_json::Value;
use shortmem::chapters::ch02;
use shortmem::data::Corpus;
use std::fs;
use std::path::{Path, PathBuf};

fn book() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The committed explorer data.
fn explorer() -> Value {
    let path = book().join("figures/ch02/attention.json");
    serde_json::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn prompts(data: &Value) -> &Vec<Value> {
    data["prompts"].as_array().expect("a list of prompts")
}

/// The tokens of a prompt, as the page shows them.
fn tokens(prompt: &Value) -> Vec<&str> {
    prompt["tokens"]
        .as_array()
        .expect("a list of tokens")
        .iter()
        .map(|t| t.as_str().expect("a token is a string"))
        .collect()
}

/// The marked (query, right earlier position) pairs of a prompt.
fn answers(prompt: &Value) -> Vec<(usize, usize)> {
    prompt["answers"]
        .as_array()
        .expect("a list of answers")
        .iter()
        .enumerate()
        .filter_map(|(q, a)| a.as_u64().map(|a| (q, a as usize)))
        .collect()
}

#[test]
fn the_models_have_the_layers_and_heads_chapter_2_trains() {
    let data = explorer();
    let corpus = ch02::corpus_transformer(1);
    let models = &data["models"];
    assert_eq!(models["corpus"]["layers"], corpus.num_layers as u64);
    assert_eq!(models["corpus"]["heads"], corpus.num_heads as u64);
    // The induction prompt is read by the chapter's 2-layer attention-only model.
    assert_eq!(models["induction"]["layers"], 2);
    assert_eq!(models["induction"]["heads"], ch02::INDUCTION_HEADS as u64);
}

#[test]
fn every_prompt_has_a_causal_row_of_weights_per_token_for_every_head() {
    let data = explorer();
    let list = prompts(&data);
    assert!(list.len() >= 3, "only {} prompts", list.len());
    let kinds: Vec<&str> = list.iter().map(|p| p["model"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"corpus") && kinds.contains(&"induction"),
        "{kinds:?}"
    );
    for p in list {
        let title = p["title"].as_str().unwrap();
        let model = &data["models"][p["model"].as_str().unwrap()];
        let (layers, heads) = (
            model["layers"].as_u64().unwrap(),
            model["heads"].as_u64().unwrap(),
        );
        let n = tokens(p).len();
        assert!((2..=64).contains(&n), "{title}: {n} tokens");
        assert_eq!(p["answers"].as_array().unwrap().len(), n, "{title}: answers");
        let weights = p["weights"].as_array().unwrap();
        assert_eq!(weights.len() as u64, layers, "{title}: layers");
        for (l, layer) in weights.iter().enumerate() {
            let layer = layer.as_array().unwrap();
            assert_eq!(layer.len() as u64, heads, "{title}: heads of layer {l}");
            for (h, rows) in layer.iter().enumerate() {
                let rows = rows.as_array().unwrap();
                assert_eq!(rows.len(), n, "{title}: layer {l}, head {h}: rows");
                for (i, row) in rows.iter().enumerate() {
                    let row: Vec<f64> = row
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|w| w.as_f64().unwrap())
                        .collect();
                    let at = format!("{title}: layer {l}, head {h}, query {i}");
                    // Causal: query i sees keys 0..=i, and nothing after.
                    assert_eq!(row.len(), i + 1, "{at}: keys");
                    assert!(row.iter().all(|w| (0.0..=1.0).contains(w)), "{at}: {row:?}");
                    let sum: f64 = row.iter().sum();
                    assert!((sum - 1.0).abs() <= 1e-2, "{at}: the weights sum to {sum}");
                }
            }
        }
    }
}

#[test]
fn every_right_earlier_token_comes_before_its_query_and_is_the_next_token() {
    let data = explorer();
    for p in prompts(&data) {
        let title = p["title"].as_str().unwrap();
        let toks = tokens(p);
        let marked = answers(p);
        assert!(
            !marked.is_empty() || p["model"] == "corpus",
            "{title}: no answer marked"
        );
        for (q, a) in marked {
            assert!(
                a < q,
                "{title}: query {q} points at position {a}, not an earlier one"
            );
            assert!(q + 1 < toks.len(), "{title}: query {q} has no next token");
            // What stands at the earlier position is what comes next: copying
            // it is right.
            assert_eq!(
                toks[a],
                toks[q + 1],
                "{title}: query {q} points at {a} ({:?}), but the next token is {:?}",
                toks[a],
                toks[q + 1]
            );
        }
    }
}

#[test]
fn the_induction_prompt_is_a_block_and_its_copy() {
    let data = explorer();
    let p = prompts(&data)
        .iter()
        .find(|p| p["model"] == "induction")
        .expect("an induction prompt");
    let toks = tokens(p);
    let marked = answers(p);
    // The copy starts at L, the first marked query; the block is L distinct tokens.
    let l = marked.first().expect("marked queries").0;
    let block = &toks[..l];
    let distinct: std::collections::HashSet<&&str> = block.iter().collect();
    assert_eq!(distinct.len(), l, "the block repeats a token: {block:?}");
    assert_eq!(&toks[l..2 * l], block, "the copy differs from the block");
    let expected: Vec<(usize, usize)> = (l..2 * l - 1).map(|t| (t, t - l + 1)).collect();
    assert_eq!(marked, expected, "the copy's answers");
}

#[test]
fn the_stories_are_held_out_text_of_the_built_in_corpus() {
    let data = explorer();
    let corpus = Corpus::builtin();
    let held_out = corpus.text.len() - corpus.text.len() / 10;
    let stories: Vec<&Value> = prompts(&data).iter().filter(|p| p["model"] == "corpus").collect();
    assert!(stories.len() >= 2, "{} corpus prompts", stories.len());
    for p in stories {
        let text: String = tokens(p)
            .iter()
            .map(|t| match *t {
                "␣" => " ",
                "⏎" => "\n",
                "⇥" => "\t",
                t => t,
            })
            .collect();
        let at = corpus.text[held_out..].find(&text);
        assert!(at.is_some(), "not in the corpus's held-out text: {text:?}");
    }
}

#[test]
fn the_page_loads_the_same_data_its_script_and_its_static_figures() {
    let dir = book().join("figures/ch02");
    let json = read(&dir.join("attention.json"));
    let script = read(&dir.join("attention-data.js"));
    let assigned = script
        .split_once("window.SHORTMEM_ATTENTION = ")
        .map(|(_, rest)| rest.trim_end().trim_end_matches(';'))
        .expect("attention-data.js sets window.SHORTMEM_ATTENTION");
    assert_eq!(
        assigned,
        json.trim_end(),
        "attention-data.js and attention.json differ"
    );

    let page = read(&book().join("attention-explorer.md"));
    for needed in [
        "figures/ch02/attention-data.js",
        "explorer/attention-explorer.js",
        "explorer/attention-explorer.css",
    ] {
        assert!(page.contains(needed), "the page does not load {needed}");
        assert!(book().join(needed).exists(), "{needed} is missing");
    }
    assert!(
        page.contains("id=\"attn-explorer\""),
        "the page has no element for the script to fill"
    );
    let summary = read(&book().join("SUMMARY.md"));
    assert!(
        summary.contains("(attention-explorer.md)"),
        "the page is not in SUMMARY.md"
    );
    // Without JavaScript, each prompt's static map is on the page.
    for p in prompts(&explorer()) {
        let figure = p["figure"].as_str().unwrap();
        assert!(dir.join(figure).exists(), "{figure} is missing");
        assert!(
            page.contains(&format!("figures/ch02/{figure}")),
            "the page does not show {figure}"
        );
    }
}
