//! Tokenizer, built-in corpus, corpus files, split and samplers.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::data::{
    CharTokenizer, Corpus, CorpusError, Dataset, Mqar, StreamSampler, load_text, random_batch,
};
use std::io::Write;

#[test]
fn tokenizer_round_trips_any_utf8() {
    let text = "Mia put the key in the red box.\n短期记忆 — naïve café ☕ 😀";
    let tok = CharTokenizer::from_text(text);
    let ids = tok.encode(text).unwrap();
    assert_eq!(
        ids.len(),
        text.chars().count(),
        "one token per Unicode scalar value, not per byte"
    );
    assert_eq!(tok.decode(&ids).unwrap(), text);
    // Sorted by code point: '\n' (10) is the smallest character here.
    assert_eq!(tok.char(0), Some('\n'));
    assert_eq!(tok.id('😀'), Some(tok.vocab_size() - 1));
    // The alphabet string rebuilds the same tokenizer (what checkpoints store).
    assert_eq!(CharTokenizer::from_alphabet(&tok.alphabet()).unwrap(), tok);
    assert!(
        CharTokenizer::from_alphabet("abca").is_none(),
        "a repeated character is refused"
    );
}

#[test]
fn unknown_characters_are_listed_not_dropped() {
    let tok = CharTokenizer::from_text("abc ");
    let err = tok.encode("a cab zebra!").unwrap_err();
    assert_eq!(err.chars, vec![('z', 6), ('e', 7), ('r', 9), ('!', 11)]);
    let msg = err.to_string();
    assert!(msg.starts_with("4 character(s) not in the vocabulary:"), "{msg}");
    assert!(msg.contains("'z' (U+007A, first at char 6)"), "{msg}");
    let err = tok.decode(&[0, 1, 9]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token id 9 at position 2 is out of range for a vocabulary of 4"
    );
}

#[test]
fn builtin_corpus_is_deterministic_sized_and_ascii() {
    let a = Corpus::generate(7, 300_000);
    let b = Corpus::generate(7, 300_000);
    let c = Corpus::generate(8, 300_000);
    assert_eq!(a.text, b.text);
    assert_eq!(a.answers, b.answers);
    assert_ne!(a.text, c.text);
    assert!((300_000..301_000).contains(&a.text.len()), "{}", a.text.len());
    assert!(a.text.is_ascii());
    let full = Corpus::builtin();
    assert!(
        (500_000..=2_000_000).contains(&full.text.len()),
        "the built-in corpus is 0.5–2 MB"
    );
}

#[test]
fn every_answer_is_fixed_by_its_story_within_a_window_but_past_an_8_gram() {
    // The property that makes the corpus reward memory: each answer repeats a
    // mention earlier in its story (paragraph); more than 8 characters lie
    // between that mention's end and the answer (too far for an 8-gram to see
    // it), and the answer starts at most 65 characters after the mention's
    // start (near enough for a 64-character window, but for the longest
    // two-object stories). Checked over the whole built-in corpus.
    let corpus = Corpus::builtin();
    assert!(corpus.answers.len() > 15_000, "{}", corpus.answers.len());
    let (mut least_gap, mut farthest) = (usize::MAX, 0);
    for r in &corpus.answers {
        let answer = &corpus.text[r.clone()];
        let story_start = corpus.text[..r.start].rfind("\n\n").map_or(0, |i| i + 2);
        let before = &corpus.text[story_start..r.start];
        assert!(!answer.is_empty() && !answer.contains('\n'));
        let mention = before
            .rfind(answer)
            .unwrap_or_else(|| panic!("answer {answer:?} not stated before it in {before:?}"));
        least_gap = least_gap.min(before.len() - (mention + answer.len()));
        farthest = farthest.max(before.len() - mention);
    }
    assert!(
        least_gap > 8 && farthest <= 65,
        "gap {least_gap}, start to start {farthest}"
    );
    let starts = corpus.answer_start_mask();
    assert_eq!(starts.iter().filter(|&&m| m).count(), corpus.answers.len());
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("shortmem-test-{}-{name}", std::process::id()));
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    path
}

#[test]
fn corpus_files_fail_clearly() {
    let missing = std::env::temp_dir().join("shortmem-no-such-file.txt");
    assert!(matches!(load_text(&missing), Err(CorpusError::Missing(_))));
    assert_eq!(
        load_text(&missing).unwrap_err().to_string(),
        format!("corpus file {} does not exist", missing.display())
    );

    let empty = temp_file("empty.txt", b"");
    assert!(load_text(&empty).unwrap_err().to_string().ends_with("is empty"));

    let mut bad = "hello world ".repeat(100).into_bytes();
    bad[37] = 0xff;
    let bad = temp_file("bad.txt", &bad);
    let msg = load_text(&bad).unwrap_err().to_string();
    assert!(
        msg.ends_with("is not valid UTF-8 (first bad byte at offset 37)"),
        "{msg}"
    );

    let short = temp_file("short.txt", "tiny text".as_bytes());
    let msg = load_text(&short).unwrap_err().to_string();
    assert!(
        msg.ends_with("has only 9 characters; at least 1000 are needed"),
        "{msg}"
    );

    let good = temp_file("good.txt", "It was a dark night. ".repeat(60).as_bytes());
    assert_eq!(load_text(&good).unwrap().chars().count(), 21 * 60);
    for p in [empty, bad, short, good] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn split_keeps_the_last_tenth_for_validation() {
    let text: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let d = Dataset::from_text(&text);
    assert_eq!(d.train.len(), 900);
    assert_eq!(d.val.len(), 100);
    assert_eq!(d.tokenizer.decode(&d.val).unwrap(), &text[900..]);
}

/// The fewest characters for both splits, checked against the split itself:
/// that many suffice and one fewer does not. Huge requests do not overflow.
#[test]
fn chars_needed_is_the_shortest_text_whose_splits_hold_enough() {
    let splits = |len: usize| (len - len / 10, len / 10);
    let enough = |len: usize, train: usize, val: usize| splits(len).0 >= train && splits(len).1 >= val;
    for train in 0..400 {
        for val in 0..60 {
            let len = Dataset::chars_needed(train, val);
            assert!(enough(len, train, val), "{len} for ({train}, {val})");
            assert!(
                len == 0 || !enough(len - 1, train, val),
                "{len} - 1 for ({train}, {val})"
            );
        }
    }
    assert_eq!(Dataset::chars_needed(usize::MAX, usize::MAX), usize::MAX);
}

#[test]
fn random_batches_pair_each_input_with_the_next_token() {
    let tokens: Vec<usize> = (0..500).collect();
    let mut rng = StdRng::seed_from_u64(1);
    let b = random_batch(&tokens, 4, 16, &mut rng);
    assert_eq!((b.inputs.len(), b.targets.len()), (64, 64));
    for (x, y) in b.inputs.iter().zip(&b.targets) {
        assert_eq!(y, &(x + 1));
    }
    for w in b.inputs.chunks(16) {
        assert!(
            w.windows(2).all(|p| p[1] == p[0] + 1),
            "a window is contiguous text"
        );
    }
    let again = random_batch(&tokens, 4, 16, &mut StdRng::seed_from_u64(1));
    assert_eq!(b.inputs, again.inputs, "same seed, same windows");
}

#[test]
fn stream_sampler_continues_each_stream() {
    let tokens: Vec<usize> = (0..101).collect();
    let mut s = StreamSampler::new(tokens.len(), 2, 10);
    let (b1, wrapped1) = s.next_batch(&tokens);
    let (b2, _) = s.next_batch(&tokens);
    assert!(wrapped1 || b1.inputs[0] == 0);
    assert_eq!(b1.inputs[..10], (0..10).collect::<Vec<_>>()[..]);
    assert_eq!(b1.inputs[10..], (50..60).collect::<Vec<_>>()[..]);
    assert_eq!(b2.inputs[0], 10, "stream 0 continues where it stopped");
    assert_eq!(b2.inputs[10], 60);
    // Streams of 50 tokens hold 4 full windows of 10 (+1 target); the 5th wraps.
    for _ in 0..2 {
        s.next_batch(&tokens);
    }
    let (b5, wrapped) = s.next_batch(&tokens);
    assert!(wrapped);
    assert_eq!(b5.inputs[0], 0);
}

/// MQAR sequences: the right length, the pairs first with distinct keys from
/// the keys' half and values from the values' half, every key asked once after
/// the pairs, each answer the value it was paired with; the three splits share
/// no sequence; the same seed gives the same sets.
#[test]
fn mqar_sequences_are_right_by_construction_and_splits_are_disjoint() {
    let task = Mqar::new(16, 4, 24);
    assert_eq!(task.vocab(), 33);
    let splits = task.splits(2000, 200, 300, 5);
    assert_eq!(
        (splits.train.len(), splits.val.len(), splits.test.len()),
        (2000, 200, 300)
    );
    for s in splits.train.iter().chain(&splits.val).chain(&splits.test) {
        assert_eq!(s.tokens.len(), 24);
        let pairs: Vec<(usize, usize)> = (0..4).map(|i| (s.tokens[2 * i], s.tokens[2 * i + 1])).collect();
        let keys: std::collections::HashSet<usize> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(keys.len(), 4, "distinct keys: {:?}", s.tokens);
        assert!(pairs.iter().all(|&(k, v)| k < 16 && (16..32).contains(&v)));
        assert_eq!(s.queries.len(), 4);
        assert!(s.queries.windows(2).all(|w| w[0] < w[1]) && s.queries[0] >= 8);
        let mut asked = Vec::new();
        for (&q, &a) in s.queries.iter().zip(&s.answers) {
            let key = s.tokens[q];
            let paired = pairs
                .iter()
                .find(|p| p.0 == key)
                .expect("a query is a key of the pairs")
                .1;
            assert_eq!(a, paired);
            asked.push(key);
        }
        asked.sort_unstable();
        let mut all: Vec<usize> = keys.into_iter().collect();
        all.sort_unstable();
        assert_eq!(asked, all, "every key asked once");
        let fillers = (8..24)
            .filter(|t| !s.queries.contains(t))
            .all(|t| s.tokens[t] == task.filler());
        assert!(fillers, "filler elsewhere: {:?}", s.tokens);
    }
    let train: std::collections::HashSet<_> = splits.train.iter().collect();
    assert!(splits.val.iter().chain(&splits.test).all(|s| !train.contains(s)));
    assert!(splits.test.iter().all(|s| !splits.val.contains(s)));
    assert_eq!(task.splits(2000, 200, 300, 5).test, splits.test);
}

#[test]
#[should_panic(expected = "has too few")]
fn an_mqar_task_too_small_for_the_set_asked_says_so() {
    // Two keys, one pair, one place to ask: 2 × 2 sequences in all.
    Mqar::new(2, 1, 3).set(10, 0, &std::collections::HashSet::new());
}

#[test]
fn repeated_blocks_are_copies_of_distinct_tokens_at_varying_offsets() {
    use shortmem::data::Repeats;
    let task = Repeats::new(20, 24, 3, 10).unwrap();
    let b = task.sample(400, 5);
    assert_eq!((b.batch.batch, b.batch.time), (400, 24));
    let mut lengths = std::collections::BTreeSet::new();
    for row in 0..400 {
        let x = &b.batch.inputs[row * 24..(row + 1) * 24];
        let y = &b.batch.targets[row * 24..(row + 1) * 24];
        let l = b.block_len[row];
        assert!((3..=10).contains(&l));
        lengths.insert(l);
        // Targets are the inputs shifted by one.
        assert_eq!(&y[..23], &x[1..]);
        // The block: distinct tokens; then the same block again.
        let block = &x[..l];
        let distinct: std::collections::BTreeSet<_> = block.iter().collect();
        assert_eq!(distinct.len(), l, "row {row}: {block:?}");
        assert_eq!(&x[l..2 * l], block);
        // At each copy position the target is what followed the same token in the block.
        for t in b.repeat_positions(row) {
            let earlier = block.iter().position(|&v| v == x[t]).unwrap();
            assert_eq!(y[t], block[earlier + 1]);
        }
        assert!(x.iter().all(|&v| v < 20));
    }
    // Pinned by hand: with L = 3, tokens a b c a b c …, the copy starts at
    // position 3; positions 3 and 4 (inputs a, b) have targets b, c fixed by
    // the block; position 5 (input c) has a fresh target; the block's own
    // targets (positions 0 and 1) are fresh draws.
    let three = Repeats::new(20, 24, 3, 3).unwrap().sample(1, 9);
    assert_eq!(three.repeat_positions(0), 3..5);
    assert_eq!(three.fresh_positions(0), 0..2);
    // The offset varies: every length of the range occurs.
    assert_eq!(lengths.len(), 8);
    // Deterministic from the seed, and different seeds differ.
    assert_eq!(task.sample(400, 5).batch.inputs, b.batch.inputs);
    assert_ne!(task.sample(400, 6).batch.inputs, b.batch.inputs);
}

#[test]
fn repeats_that_cannot_fit_say_why() {
    use shortmem::data::Repeats;
    assert!(Repeats::new(20, 10, 3, 6).unwrap_err().contains("do not fit"));
    assert!(Repeats::new(5, 40, 3, 8).unwrap_err().contains("vocabulary"));
    assert!(Repeats::new(20, 40, 1, 8).unwrap_err().contains("shortest"));
}

/// A sample's default prompt starts at a line, else at a word, and does not end
/// in the middle of a word.
#[test]
fn the_opening_starts_at_a_line_or_word_and_ends_between_words() {
    use shortmem::data::opening;
    // Cut mid-word, with a line break soon after: the next line.
    assert_eq!(
        opening("en waved to Ada.\nThere was a dog called Max.", 40),
        "There was a dog called Max."
    );
    // no line break: after the first space; 13 characters end mid-word, so the
    // last whole word is kept with its space.
    assert_eq!(opening("ood night, Mia said to the cat", 13), "night, Mia ");
    // Ending at the end of a word is kept whole.
    assert_eq!(opening("xx Mia put it", 10), "Mia put it");
    // Blank lines are skipped; non-ASCII counts in characters.
    assert_eq!(opening("ün\n\nZoë ging nach Hause", 7), "Zoë ");
    // Nothing to cut at: the text's start.
    assert_eq!(opening("abcdefgh", 4), "abcd");
    assert_eq!(opening("", 40), "");
    // A single long word after the boundary stays, cut (nothing better).
    assert_eq!(opening("a abcdefghij", 4), "abcd");
}

#[test]
fn each_answer_kind_is_told_from_its_words_and_every_generated_answer_has_one() {
    use shortmem::data::AnswerKind;
    assert_eq!(AnswerKind::of("blue bag"), AnswerKind::Container);
    assert_eq!(AnswerKind::of("garden"), AnswerKind::Place);
    assert_eq!(AnswerKind::of("lamp"), AnswerKind::Object);
    assert_eq!(AnswerKind::of("Kai"), AnswerKind::Name);
    assert_eq!(AnswerKind::of("owl"), AnswerKind::Animal);
    assert_eq!(AnswerKind::of("blue"), AnswerKind::Other);
    let corpus = Corpus::generate(3, 20_000);
    let mut seen = Vec::new();
    for r in &corpus.answers {
        let kind = AnswerKind::of(&corpus.text[r.clone()]);
        assert_ne!(kind, AnswerKind::Other, "answer {:?}", &corpus.text[r.clone()]);
        if !seen.contains(&kind) {
            seen.push(kind);
        }
    }
    assert_eq!(seen.len(), 5, "every kind appears in 20 kB of stories: {seen:?}");
}
