//! Chapter 6's tasks: each generator's answers checked by an independent
//! reading of its prompt, the splits disjoint, the interpreter and the SCAN
//! translation against hand-worked examples, the answer-only loss mask, and
//! one small learning test.

use rand::rngs::StdRng;
use shortmem::data::CharTokenizer;
use shortmem::data::apps::{
    Arithmetic, Dialogue, END, EvalError, Example, SEP, Scan, ScanSplit, Splits, Summary, Words, eval,
    summary_f1, translate,
};
use shortmem::tasks::{Judge, Verdict, answer_batch, encode_examples};
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
    // One operation on a number from 1 to 99: 99 × (99 adds + 99 subtractions
    // + 7 multiplications + 1 doubling) = 20,394 descriptions. All but a few
    // can be drawn; more cannot.
    let one_op = |r: &mut StdRng| Arithmetic::new(1, 1).example(r);
    assert_eq!(
        Splits::draw(one_op, (20_000, 10, 10), 0).unwrap().train.len(),
        20_000
    );
    let err = Splits::draw(one_op, (20_394, 10, 10), 0).unwrap_err();
    assert_eq!((err.split, err.wanted), ("training", 20_394));
    assert!(err.found <= 20_374, "{err}");
    assert!(err.to_string().contains("ran out of new examples"), "{err}");
}

/// bAbI's answers, read back from the text alone: the room of the person's
/// last move, or of the thing's holder, or where it was dropped. Questions
/// answered in between (`Where is Mary?=kitchen⏎`) are checked on the way.
fn babi_answer(prompt: &str) -> (String, usize) {
    let mut room: HashMap<String, (String, usize)> = HashMap::new();
    let mut holder: HashMap<String, (String, usize)> = HashMap::new();
    let mut lying: HashMap<String, (String, usize)> = HashMap::new();
    let mut t = 0;
    let mut last = None;
    for piece in prompt.split(END) {
        if piece.is_empty() {
            continue;
        }
        let (statements, rest) =
            piece.split_at(piece.find("Where is ").expect("every piece ends in a question"));
        for s in statements.split('.').map(str::trim).filter(|s| !s.is_empty()) {
            let w: Vec<&str> = s.split(' ').collect();
            let (who, what) = (w[0].to_string(), w.last().unwrap().to_string());
            if s.contains(" to the ") {
                room.insert(who, (what, t));
            } else if ["picked", "got", "grabbed"].contains(&w[1]) {
                holder.insert(what.clone(), (who, t));
                lying.remove(&what);
            } else {
                // Dropped where the dropper last went: that move and the drop
                // are the thing's two supporting facts.
                let (here, moved) = room[&who].clone();
                holder.remove(&what);
                lying.insert(what, (here, moved.min(t)));
            }
            t += 1;
        }
        let (question, given) = match rest.split_once(SEP) {
            Some((q, a)) => (q, Some(a)),
            None => (rest, None),
        };
        let asked = question
            .trim_start_matches("Where is ")
            .trim_start_matches("the ")
            .trim_end_matches('?');
        let (place, oldest) = if let Some((who, took)) = holder.get(asked) {
            let (place, moved) = &room[who];
            (place.clone(), (*took).min(*moved))
        } else if let Some((place, at)) = lying.get(asked) {
            (place.clone(), *at)
        } else {
            room[asked].clone()
        };
        if let Some(a) = given {
            assert_eq!(a, place, "the answer given in between: {prompt}");
        }
        last = Some((place, t - 1 - oldest));
    }
    last.expect("a prompt ends in a question")
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
        // Every distance is about equally likely (so the last turn alone
        // answers few questions), and some answers come in between.
        let mut by = [0usize; 8];
        for e in all(&s) {
            by[e.demand] += 1;
        }
        let lowest = usize::from(two_facts);
        let n = all(&s).count() as f64;
        for (d, &k) in by.iter().enumerate().skip(lowest) {
            let share = k as f64 / n;
            assert!(
                (share - 1.0 / (8 - lowest) as f64).abs() < 0.03,
                "distance {d}: {share:.3}"
            );
        }
        assert!(all(&s).filter(|e| e.prompt.contains(END)).count() as f64 > 0.5 * n);
        let things = all(&s).filter(|e| e.prompt.contains("Where is the ")).count();
        assert_eq!(things > 0, two_facts, "task 2 asks for things, task 1 for people");
    }
}

#[test]
fn dialogue_by_hand() {
    // The reader, on the examples the docs draw: Mary's move is 2 turns before
    // the question; the football's oldest fact (the pick-up) is 1 turn before.
    let (place, demand) = babi_answer(
        "Mary went to the kitchen. John picked up the milk. Sandra went to the garden. Where is Mary?",
    );
    assert_eq!((place.as_str(), demand), ("kitchen", 2));
    let (place, demand) = babi_answer(
        "Sandra travelled to the kitchen. Sandra grabbed the football. Sandra moved to the garden. Where is the football?",
    );
    assert_eq!((place.as_str(), demand), ("garden", 1));
    // A dropped thing: the drop and the dropper's move before it (turn 0).
    let (place, demand) = babi_answer(
        "John went to the office. John got the apple. John dropped the apple. John went to the hallway. Where is the apple?",
    );
    assert_eq!((place.as_str(), demand), ("office", 3));
    // A question answered in between; the last one asks again after a move.
    let (place, demand) = babi_answer(&format!(
        "Mary went to the kitchen. Where is Mary?{SEP}kitchen{END}Mary moved to the garden. John went to the office. Where is Mary?"
    ));
    assert_eq!((place.as_str(), demand), ("garden", 1));
}

#[test]
fn a_thing_needs_two_turns_to_be_asked_about() {
    let err = std::panic::catch_unwind(|| Dialogue::new(true, 1, 1)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("at least 2 turns"), "{msg}");
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
fn each_task_judges_answers_as_it_says_by_hand() {
    let v = |right: f64, f1: f64| Verdict { right, f1 };
    for judge in [Judge::Exact, Judge::Runs, Judge::Items] {
        // Right under teacher forcing: right, whatever was decoded to show.
        assert_eq!(judge.verdict(true, None, "kitchen"), v(1.0, 1.0), "{judge:?}");
        assert_eq!(
            judge.verdict(true, Some("garden"), "kitchen"),
            v(1.0, 1.0),
            "{judge:?}"
        );
        // Not right and not decoded: wrong.
        assert_eq!(judge.verdict(false, None, "kitchen"), v(0.0, 0.0), "{judge:?}");
    }
    // Word for word: an answer decoded only to be shown counts for nothing,
    // even when it reads like the truth (forcing is the judge).
    assert_eq!(
        Judge::Exact.verdict(false, Some("garden"), "kitchen"),
        v(0.0, 0.0)
    );
    assert_eq!(
        Judge::Exact.verdict(false, Some("kitchen"), "kitchen"),
        v(0.0, 0.0)
    );
    assert!(!Judge::Exact.decodes() && Judge::Runs.decodes() && Judge::Items.decodes());
    // Code: other words with the same value are right; another value, or a
    // program that does not parse, is wrong.
    assert_eq!(Judge::Runs.verdict(false, Some("(27+45)*2"), "144"), v(1.0, 1.0));
    assert_eq!(
        Judge::Runs.verdict(false, Some("2*(45+27)"), "(27+45)*2"),
        v(1.0, 1.0)
    );
    assert_eq!(
        Judge::Runs.verdict(false, Some("(27+45)*3"), "(27+45)*2"),
        v(0.0, 0.0)
    );
    assert_eq!(
        Judge::Runs.verdict(false, Some("(27+45"), "(27+45)*2"),
        v(0.0, 0.0)
    );
    // Summaries: exact or not, with the item F1 as partial credit (two of
    // three facts said, nothing wrong: F1 0.8).
    let truth = "Mary: apple key; John: milk";
    assert_eq!(Judge::Items.verdict(false, Some(truth), truth), v(1.0, 1.0));
    let partial = Judge::Items.verdict(false, Some("Mary: apple key"), truth);
    assert_eq!(partial.right, 0.0);
    assert!((partial.f1 - 0.8).abs() < 1e-12);
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
    // An answer given earlier in the prompt (a conversation's question in
    // between) is trained on too; forced scoring reads only the last one.
    let convo = Example {
        prompt: format!("a{SEP}c{END}b"),
        answer: "c".into(),
        demand: 0,
    };
    let set = encode_examples(&tok, &[convo]).unwrap();
    assert_eq!(set[0].earlier, vec![2..4], "`c⏎` at tokens 2 and 3");
    assert_eq!(set[0].answer_from, 6);
    let b = answer_batch(&set, &[0], id(END));
    // Inputs a = c ⏎ b = c; targets: after `=` comes c, after c ⏎, then the last answer.
    assert_eq!(b.targets, vec![x, id('c'), id(END), x, x, id('c'), id(END)]);
}

#[test]
fn words_are_one_symbol_each_and_read_back_exactly() {
    let tasks: Vec<(Splits, bool)> = vec![
        (draw(|r| Dialogue::new(true, 2, 6).example(r), 300), true),
        (draw(|r| Summary::new(1, 6).example(r), 300), true),
        (Scan::new().split(ScanSplit::Simple, 100, 0), false),
    ];
    for (s, answers) in &tasks {
        let words = Words::of(s, *answers);
        for e in all(s) {
            let coded = words.encode_example(e).unwrap();
            let mut texts = vec![(&e.prompt, coded.prompt)];
            if *answers {
                texts.push((&e.answer, coded.answer));
            } else {
                assert_eq!(coded.answer, e.answer, "SCAN's actions stay as they are");
            }
            for (text, symbols) in texts {
                assert_eq!(&words.decode(&symbols).unwrap(), text);
                // One symbol per word; punctuation and the separators stay.
                let n_words = text
                    .split(|c: char| !c.is_alphabetic())
                    .filter(|w| !w.is_empty())
                    .count();
                let n_other = text.chars().filter(|c| !c.is_alphabetic() && *c != ' ').count();
                assert_eq!(symbols.chars().count(), n_words + n_other, "{text}");
            }
        }
    }
    let words = Words::of(&tasks[2].0, false);
    assert_eq!(words.list().len(), 13, "SCAN's 13 words");
    let sym = words.encode("jump twice").unwrap();
    assert_eq!(sym.chars().count(), 2);
    let err = words.encode("jump quickly").unwrap_err();
    assert_eq!(err.word, "quickly");
    assert!(err.to_string().contains("\"quickly\""), "{err}");
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
    // The chapter's decoder (one token at a time through the key-value cache)
    // writes what the batched decoder writes.
    use shortmem::sample::Sampling;
    for (e, batched) in test.iter().zip(&said).take(100) {
        let mut ids = lm
            .generate(
                e.prompt(),
                40,
                Sampling::Greedy,
                &mut StdRng::seed_from_u64(0),
                true,
            )
            .unwrap();
        ids.truncate(ids.iter().position(|&t| t == end).unwrap_or(ids.len()));
        assert_eq!(&ids, batched);
    }
}

/// The answer loss is each example's mean over its answer, averaged over the
/// examples, computed by hand from the logits; and a batch split into shards
/// (one per thread) has the same loss as the whole batch.
#[test]
fn every_example_weighs_the_same_in_the_answer_loss_whatever_the_threads() {
    use rand::SeedableRng;
    use shortmem::Graph;
    use shortmem::models::{LanguageModel, TransformerConfig, TransformerLM};
    use shortmem::sample::nll;
    use shortmem::tasks::answer_loss;
    use shortmem::train::batch_gradients;
    // Answers of 1 to 9 characters: a token-weighted mean would differ.
    let examples: Vec<Example> = ["a", "abcabcabc", "cb", "bbbb"]
        .iter()
        .map(|a| Example {
            prompt: "cab".into(),
            answer: a.to_string(),
            demand: 0,
        })
        .collect();
    let tok = CharTokenizer::from_text(&format!("abc{SEP}{END}"));
    let set = encode_examples(&tok, &examples).unwrap();
    let end = tok.id(END).unwrap();
    let batch = answer_batch(&set, &[0, 1, 2, 3], end);
    let config = TransformerConfig {
        vocab_size: tok.vocab_size(),
        embed_dim: 8,
        num_heads: 2,
        ff_dim: 16,
        num_layers: 1,
        context: 16,
        causal: true,
    };
    let mut lm = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(3));
    let g = Graph::inference();
    let logits = lm.logits(&g, &batch).value();
    let v = tok.vocab_size();
    let mut by_hand = 0.0;
    for (row, e) in set.iter().enumerate() {
        let answer = e.answer();
        let mut sum = 0.0;
        for (k, &target) in answer.iter().enumerate() {
            let t = e.answer_from - 1 + k;
            let at = row * batch.time + t;
            sum += nll(&logits.data()[at * v..(at + 1) * v], target);
        }
        by_hand += sum / answer.len() as f64;
    }
    by_hand /= set.len() as f64;
    let whole = answer_loss(&lm, &g, &batch).item();
    assert!((whole - by_hand).abs() < 1e-5, "{whole} vs {by_hand}");
    fn loss<'g>(
        m: &TransformerLM,
        g: &'g Graph,
        b: &shortmem::data::Batch,
        _: &mut (),
    ) -> shortmem::autograd::Var<'g> {
        answer_loss(m, g, b)
    }
    let (one, _) = batch_gradients(&mut lm, &batch, (), 1, &loss);
    let (two, _) = batch_gradients(&mut lm, &batch, (), 2, &loss);
    let (four, _) = batch_gradients(&mut lm, &batch, (), 4, &loss);
    assert!(
        (one - by_hand).abs() < 1e-5 && (two - one).abs() < 1e-6 && (four - one).abs() < 1e-6,
        "{one} {two} {four}"
    );
}
