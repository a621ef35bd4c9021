//! Chapter 6's tasks: each generator's answers checked by an independent
//! reading of its prompt, the splits disjoint, the interpreter and the SCAN
//! translation against hand-worked examples, the answer-only loss mask, and
//! one small learning test.

use rand::rngs::StdRng;
use shortmem::data::CharTokenizer;
use shortmem::data::apps::{
    Arithmetic, Dialogue, END, EvalError, Example, SEP, Scan, ScanSplit, Splits, Summary, eval, summary_f1,
    translate,
};
use shortmem::tasks::{answer_batch, encode_examples};
use std::collections::{HashMap, HashSet};

fn draw(example: impl FnMut(&mut StdRng) -> Example, n: usize) -> Splits {
    Splits::draw(example, (n, 100, 200), 11).unwrap()
}

fn all(s: &Splits) -> impl Iterator<Item = &Example> {
    s.train.iter().chain(&s.val).chain(&s.test)
}

#[test]
fn splits_are_disjoint_deterministic_and_say_when_the_space_runs_dry() {
    let dialogue = |r: &mut StdRng| Dialogue::new(false, 1, 4).example(r);
    let a = Splits::draw(dialogue, (2000, 200, 300), 5).unwrap();
    let b = Splits::draw(dialogue, (2000, 200, 300), 5).unwrap();
    assert_eq!(a.train, b.train);
    assert_eq!(a.test, b.test);
    assert_eq!((a.train.len(), a.val.len(), a.test.len()), (2000, 200, 300));
    let prompts: HashSet<&str> = all(&a).map(|e| e.prompt.as_str()).collect();
    assert_eq!(prompts.len(), 2500, "no prompt is in two splits, or twice in one");
    // One operation on a number below 100 has fewer than 20,000 forms.
    let err = Splits::draw(|r| Arithmetic::new(1, 1).example(r), (20_000, 10, 10), 0).unwrap_err();
    assert_eq!(err.split, "training");
    assert!(err.to_string().contains("too few distinct examples"), "{err}");
}

/// bAbI's answers, read back from the text alone: the room of the person's
/// last move, or of the thing's holder, or where it was dropped.
fn babi_answer(prompt: &str) -> (String, usize) {
    let (story, question) = prompt.rsplit_once(". ").unwrap();
    let sentences: Vec<&str> = story.split(". ").collect();
    let mut room: HashMap<&str, (&str, usize)> = HashMap::new();
    let mut holder: HashMap<&str, (&str, usize)> = HashMap::new();
    let mut lying: HashMap<&str, (&str, usize)> = HashMap::new();
    for (t, s) in sentences.iter().enumerate() {
        let w: Vec<&str> = s.trim_end_matches('.').split(' ').collect();
        let (who, last) = (w[0], *w.last().unwrap());
        if s.contains(" to the ") {
            room.insert(who, (last, t));
        } else if ["picked", "got", "grabbed"].contains(&w[1]) {
            holder.insert(last, (who, t));
            lying.remove(last);
        } else {
            let here = room[who].0;
            holder.remove(last);
            lying.insert(last, (here, t));
        }
    }
    let n = sentences.len();
    let asked = question
        .trim_start_matches("Where is ")
        .trim_start_matches("the ")
        .trim_end_matches('?');
    let (place, oldest) = if let Some(&(who, took)) = holder.get(asked) {
        let (place, moved) = room[who];
        (place, took.min(moved))
    } else if let Some(&(place, t)) = lying.get(asked) {
        (place, t)
    } else {
        room[asked]
    };
    (place.to_string(), n - 1 - oldest)
}

#[test]
fn dialogue_answers_are_where_the_story_left_them() {
    for two_facts in [false, true] {
        let s = draw(|r| Dialogue::new(two_facts, 1, 8).example(r), 2000);
        let mut far = 0;
        for e in all(&s) {
            let (place, demand) = babi_answer(&e.prompt);
            assert_eq!(
                (e.answer.as_str(), e.demand),
                (place.as_str(), demand),
                "{}",
                e.prompt
            );
            far += usize::from(e.demand >= 4);
        }
        assert!(far > 100, "some questions come long after their fact");
        let things = all(&s).filter(|e| e.prompt.contains("Where is the ")).count();
        assert_eq!(things > 0, two_facts, "task 2 asks for things, task 1 for people");
    }
}

#[test]
fn dialogue_by_hand() {
    // The question, its fact and the turns between, as the docs draw them.
    let (place, demand) = babi_answer(
        "Mary went to the kitchen. John picked up the milk. Sandra went to the garden. Where is Mary?",
    );
    assert_eq!((place.as_str(), demand), ("kitchen", 2));
}

/// Who holds what, read back from the story alone.
fn summary_of(story: &str) -> String {
    let people = ["Mary", "John", "Sandra"];
    let mut holder: HashMap<&str, &str> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for s in story.split(". ") {
        let w: Vec<&str> = s.trim_end_matches('.').split(' ').collect();
        match w[1] {
            "took" => {
                holder.insert(w[3], w[0]);
                if !order.contains(&w[3]) {
                    order.push(w[3]);
                }
            }
            "gave" => {
                holder.insert(w[3], w[5]);
            }
            _ => {
                holder.remove(w[3]);
            }
        }
    }
    let parts: Vec<String> = people
        .iter()
        .filter_map(|p| {
            let things: Vec<&str> = order
                .iter()
                .copied()
                .filter(|t| holder.get(t) == Some(p))
                .collect();
            (!things.is_empty()).then(|| format!("{p}: {}", things.join(" ")))
        })
        .collect();
    if parts.is_empty() {
        "nobody".into()
    } else {
        parts.join("; ")
    }
}

#[test]
fn summaries_say_who_holds_what_at_the_end() {
    let s = draw(|r| Summary::new(1, 10).example(r), 2000);
    for e in all(&s) {
        assert_eq!(e.answer, summary_of(&e.prompt), "{}", e.prompt);
        assert_eq!(e.demand, e.prompt.matches(". ").count() + 1);
    }
    assert_eq!(
        summary_of("Mary took the apple. Mary gave the apple to John. Sandra took the key."),
        "John: apple; Sandra: key"
    );
}

#[test]
fn summary_f1_by_hand() {
    let truth = "Mary: apple key; John: milk";
    assert_eq!(summary_f1(truth, truth), 1.0);
    // 2 of 3 facts said, nothing wrong: precision 1, recall 2/3, F1 0.8.
    assert!((summary_f1("Mary: apple key", truth) - 0.8).abs() < 1e-12);
    // 1 right, 1 wrong: precision 1/2, recall 1/3, F1 0.4.
    assert!((summary_f1("Mary: apple; John: key", truth) - 0.4).abs() < 1e-12);
    assert_eq!(summary_f1("nobody", "nobody"), 1.0);
    assert_eq!(summary_f1("nobody", truth), 0.0);
    assert_eq!(summary_f1("Mary: apple", "nobody"), 0.0);
    assert_eq!(summary_f1("garbled", truth), 0.0);
}

#[test]
fn the_interpreter_follows_precedence_and_names_its_errors() {
    assert_eq!(eval("2+3*4"), Ok(14));
    assert_eq!(eval("(2+3)*4"), Ok(20));
    assert_eq!(eval("10-4-3"), Ok(3), "left to right");
    assert_eq!(eval("((7))"), Ok(7));
    assert_eq!(eval("(27+45)*2"), Ok(144));
    assert_eq!(eval("2+"), Err(EvalError::Syntax { at: 2 }));
    assert_eq!(eval("(2+3"), Err(EvalError::Syntax { at: 4 }));
    assert_eq!(eval("2 + 3"), Err(EvalError::Syntax { at: 1 }));
    assert_eq!(eval(""), Err(EvalError::Syntax { at: 0 }));
    assert_eq!(eval("99999999999*99999999999"), Err(EvalError::Overflow));
}

#[test]
fn every_program_computes_what_its_description_says() {
    let s = draw(|r| Arithmetic::new(1, 4).example(r), 3000);
    for e in all(&s) {
        // Fold the words left to right, as a person would.
        let mut steps = e.prompt.split(", ");
        let mut v: i64 = steps.next().unwrap().trim_start_matches("take ").parse().unwrap();
        let mut ops = 0;
        for step in steps {
            ops += 1;
            let n = |p: &str| step.trim_start_matches(p).parse::<i64>().unwrap();
            v = match step {
                "double it" => v * 2,
                s if s.starts_with("add ") => v + n("add "),
                s if s.starts_with("subtract ") => v - n("subtract "),
                _ => v * n("multiply by "),
            };
        }
        assert_eq!(eval(&e.answer), Ok(v), "{} = {}", e.prompt, e.answer);
        assert_eq!(e.demand, ops);
    }
}

#[test]
fn scan_translates_the_papers_examples() {
    // Lake & Baroni (2018), with W L R J for the actions and < > for the turns.
    let cases = [
        ("jump", "J"),
        ("jump left", "<J"),
        ("jump around right", ">J>J>J>J"),
        ("turn left twice", "<<"),
        ("jump thrice", "JJJ"),
        ("jump opposite left and walk thrice", "<<JWWW"),
        ("jump opposite left after walk around left", "<W<W<W<W<<J"),
        ("turn around right", ">>>>"),
        ("walk and turn opposite right", "W>>"),
        ("look twice after run right thrice", ">R>R>RLL"),
    ];
    for (command, actions) in cases {
        assert_eq!(translate(command).as_deref(), Some(actions), "{command}");
    }
    for bad in [
        "turn",
        "jump jump",
        "walk left twice and",
        "fly",
        "walk around",
        "jump twice twice",
    ] {
        assert_eq!(translate(bad), None, "{bad:?} is not in the grammar");
    }
}

#[test]
fn scan_has_the_papers_commands_and_splits() {
    let scan = Scan::new();
    assert_eq!(scan.examples.len(), 20_910, "the grammar's commands");
    let distinct: HashSet<&str> = scan.examples.iter().map(|e| e.prompt.as_str()).collect();
    assert_eq!(distinct.len(), 20_910);
    let simple = scan.split(ScanSplit::Simple, 500, 1);
    assert_eq!(
        (simple.train.len() + simple.val.len(), simple.test.len()),
        (16_728, 4_182)
    );
    let length = scan.split(ScanSplit::Length, 500, 1);
    assert_eq!(
        (length.train.len() + length.val.len(), length.test.len()),
        (16_990, 3_920)
    );
    assert!(
        length
            .train
            .iter()
            .chain(&length.val)
            .all(|e| e.answer.len() <= 22)
    );
    assert!(length.test.iter().all(|e| (24..=48).contains(&e.answer.len())));
    for s in [&simple, &length] {
        let train: HashSet<&str> = s.train.iter().chain(&s.val).map(|e| e.prompt.as_str()).collect();
        assert!(s.test.iter().all(|e| !train.contains(e.prompt.as_str())));
    }
}

#[test]
fn only_the_answer_and_its_end_are_scored() {
    let e = Example {
        prompt: "ab".into(),
        answer: "c".into(),
        demand: 0,
    };
    let longer = Example {
        prompt: "abab".into(),
        answer: "cc".into(),
        demand: 0,
    };
    let text = format!("abc{SEP}{END}");
    let tok = CharTokenizer::from_text(&text);
    let id = |c: char| tok.id(c).unwrap();
    let set = encode_examples(&tok, &[e, longer]).unwrap();
    assert_eq!(set[0].prompt(), &[id('a'), id('b'), id(SEP)]);
    assert_eq!(set[0].answer(), &[id('c'), id(END)]);
    let b = answer_batch(&set, &[0, 1], id(END));
    // "ab=c⏎" is 5 tokens: 4 inputs, right-padded to the longer row's 7.
    assert_eq!((b.batch, b.time), (2, 7));
    let x = usize::MAX;
    assert_eq!(&b.targets[..7], &[x, x, id('c'), id(END), x, x, x]);
    assert_eq!(
        &b.inputs[..7],
        &[id('a'), id('b'), id(SEP), id('c'), id(END), id(END), id(END)]
    );
    assert_eq!(&b.targets[7..], &[x, x, x, x, id('c'), id('c'), id(END)]);
    // A character the tokenizer lacks is named.
    let err = encode_examples(
        &tok,
        &[Example {
            prompt: "az".into(),
            answer: "c".into(),
            demand: 0,
        }],
    )
    .unwrap_err();
    assert!(err.to_string().contains('z'), "{err}");
}

/// Trains a small Transformer on the code task (one or two operations) and
/// scores it by running what it writes.
#[test]
fn a_transformer_learns_to_write_programs_that_run_right() {
    use rand::SeedableRng;
    use shortmem::models::{TransformerConfig, TransformerLM};
    use shortmem::optim::AdamW;
    use shortmem::tasks::{end_id, forced_exact_match, greedy_answers, train_answers};
    use shortmem::train::TrainConfig;
    let s = Splits::draw(|r| Arithmetic::new(1, 2).example(r), (8000, 100, 300), 0).unwrap();
    let tok = CharTokenizer::from_text(&s.alphabet());
    let end = end_id(&tok).unwrap();
    let (train, val, test) = (
        encode_examples(&tok, &s.train).unwrap(),
        encode_examples(&tok, &s.val).unwrap(),
        encode_examples(&tok, &s.test).unwrap(),
    );
    let context = s.longest();
    let config = TransformerConfig {
        vocab_size: tok.vocab_size(),
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 128,
        num_layers: 2,
        context,
        causal: true,
    };
    let mut lm = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(0));
    let mut cfg = TrainConfig::new(400, 32, context, 3e-3);
    cfg.progress = false;
    train_answers(&mut lm, &mut AdamW::nanogpt(3e-3), (&train, &val), end, &cfg).unwrap();
    let prompts: Vec<&[usize]> = test.iter().map(|e| e.prompt()).collect();
    let said = greedy_answers(&lm, &prompts, end, 40, context);
    let (mut runs_right, mut same_text) = (0, 0);
    for (ids, e) in said.iter().zip(&s.test) {
        let program = tok.decode(ids).unwrap();
        runs_right += usize::from(eval(&program).is_ok_and(|v| Ok(v) == eval(&e.answer)));
        same_text += usize::from(program == e.answer);
    }
    let n = s.test.len() as f64;
    let functional = runs_right as f64 / n;
    assert!(functional >= 0.9, "functional accuracy {functional}");
    // Greedy decoding gets an answer exactly right if and only if every
    // teacher-forced argmax is right: the two measures are one number.
    assert_eq!(forced_exact_match(&lm, &test, end), same_text as f64 / n);
}
