//! The chapter binaries run end to end with --quick, write summary.json and
//! their figures, and refuse bad flags and bad corpora clearly.

use std::path::PathBuf;
use std::process::Command;

/// A fresh folder for one test's output (each test its own `name`: the tests run
/// in parallel, and two sharing one would overwrite each other's files).
fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("shortmem-chapter-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn ch01_quick_writes_summary_and_figures() {
    let out = out_dir("ch01");
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .args(["--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("held-out cross-entropy of n-gram models"));
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(json["chapter"], "ch01");
    let values = &json["values"];
    let k0 = values["nats/char at k=0"].as_f64().unwrap();
    let best = values["nats/char at best k"].as_f64().unwrap();
    assert!(best < k0, "more context must help at first: {best} vs {k0}");
    assert!(values["neural bigram val nats/char"].as_f64().unwrap() < k0);
    for f in json["figures"].as_array().unwrap() {
        assert!(out.join(f.as_str().unwrap()).exists(), "figure {f} missing");
    }
    assert!(json["figures"].as_array().unwrap().len() >= 3);
}

#[test]
fn bad_flags_exit_2_with_usage() {
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("unexpected argument '--no-such-flag'") && err.contains("Usage:"),
        "{err}"
    );
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .args(["--max-k", "12"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn a_missing_corpus_is_a_clear_error() {
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .args(["--quick", "--corpus", "/no/such/corpus.txt", "--out"])
        .arg(out_dir("missing"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&run.stderr).trim(),
        "error: corpus file /no/such/corpus.txt does not exist"
    );
}

#[test]
fn help_lists_the_common_flags() {
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(run.status.success());
    let help = String::from_utf8_lossy(&run.stdout);
    for flag in [
        "--quick",
        "--steps",
        "--seed",
        "--threads",
        "--corpus",
        "--out",
        "--timings",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    // Each chapter that trains gives its own --steps default.
    for bin in [
        env!("CARGO_BIN_EXE_ch01"),
        env!("CARGO_BIN_EXE_ch02"),
        env!("CARGO_BIN_EXE_ch03"),
        env!("CARGO_BIN_EXE_ch04"),
        env!("CARGO_BIN_EXE_ch05"),
        env!("CARGO_BIN_EXE_ch06"),
    ] {
        let run = Command::new(bin).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&run.stdout);
        let steps = help.lines().find(|l| l.contains("--steps")).unwrap_or("");
        assert!(steps.contains("[default: "), "{bin}: {steps}");
    }
}

#[test]
fn the_tour_runs_quick() {
    let run = Command::new(env!("CARGO_BIN_EXE_shortmem"))
        .arg("--quick")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("what the tour found"));
}

#[test]
fn ch05_quick_trains_saves_and_samples_a_saved_model() {
    let out = out_dir("ch05-save");
    let model = out.join("model.safetensors");
    let run = Command::new(env!("CARGO_BIN_EXE_ch05"))
        .args(["--quick", "--train-only", "--out"])
        .arg(&out)
        .arg("--save")
        .arg(&model)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("max |Δlogit| 0"),
        "the saved copy computes the same logits:\n{stdout}"
    );
    assert!(
        stdout.contains("   saved the weights "),
        "it says which weights it saved:\n{stdout}"
    );
    // The speed is a timing: in timings.json, not in summary.json.
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap()
    };
    assert!(read("timings.json")["values"]["tokens/s"].as_f64().unwrap() > 0.0);
    assert!(read("summary.json")["values"].get("tokens/s").is_none());
    // Training flags given with --load are named as unused.
    let run = Command::new(env!("CARGO_BIN_EXE_ch05"))
        .arg("--load")
        .arg(&model)
        .args(["--layers", "2", "--lr", "0.01", "--tokens", "5"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("--layers, --lr are not used"), "{err}");
    // Sampling the saved model: the prompt comes back, then new characters.
    let run = Command::new(env!("CARGO_BIN_EXE_ch05"))
        .arg("--load")
        .arg(&model)
        .args([
            "--prompt",
            "Mia put the ",
            "--tokens",
            "30",
            "--sampling",
            "greedy",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.starts_with("Mia put the ") && text.trim_end().chars().count() >= 30,
        "{text:?}"
    );
    // A prompt character the model never saw is an error that names it.
    let run = Command::new(env!("CARGO_BIN_EXE_ch05"))
        .arg("--load")
        .arg(&model)
        .args(["--prompt", "Zoë"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("'ë'"), "{err}");
}

#[test]
fn ch02_to_ch05_quick_runs_write_their_figures() {
    for (bin, key) in [
        (
            env!("CARGO_BIN_EXE_ch02"),
            "induction: 2-layer loss on the repeat",
        ),
        (
            env!("CARGO_BIN_EXE_ch03"),
            "memory span: Transformer recall at k=8",
        ),
        (env!("CARGO_BIN_EXE_ch04"), "eq 4.2 engine vs hand, max abs diff"),
        (env!("CARGO_BIN_EXE_ch05"), "checkpoint round trip max |Δlogit|"),
    ] {
        let out = out_dir(bin.rsplit('/').next().unwrap());
        // A file of the user's in the output folder, under a name the round
        // trip might have used, is left alone.
        let mine = out.join("model.safetensors");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(&mine, "mine").unwrap();
        let run = Command::new(bin)
            .args(["--quick", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{bin}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&mine).unwrap(),
            "mine",
            "{bin} replaced or removed it"
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert!(
            json["values"][key].is_number(),
            "{bin}: summary lacks {key:?}: {}",
            json["values"]
        );
        for f in json["figures"].as_array().unwrap() {
            assert!(
                out.join(f.as_str().unwrap()).exists(),
                "{bin}: figure {f} missing"
            );
        }
    }
}

#[test]
fn runs_on_your_own_corpus_write_under_target() {
    use shortmem::chapter::{CommonArgs, output_dir};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        output_dir("ch05", &CommonArgs::default()),
        root.join("book/src/figures/ch05")
    );
    let mine = CommonArgs {
        corpus: Some("/data/my_novel.txt".into()),
        ..CommonArgs::default()
    };
    assert_eq!(
        output_dir("ch05", &mine),
        root.join("target/shortmem/ch05/my_novel")
    );
    let explicit = CommonArgs {
        out: Some("/tmp/x".into()),
        ..mine.clone()
    };
    assert_eq!(output_dir("ch05", &explicit), std::path::PathBuf::from("/tmp/x"));
    let quick = CommonArgs { quick: true, ..mine };
    assert!(output_dir("ch05", &quick).starts_with(std::env::temp_dir()));
}

#[test]
fn a_bad_kernel_or_thread_count_in_the_environment_stops_before_any_work() {
    use shortmem::kernels::Kernel;
    let out = out_dir("bad-env");
    let missing = Kernel::ALL.iter().find(|k| !k.is_available()).map(|k| k.name());
    let mut cases = vec![
        (
            "SHORTMEM_KERNEL",
            "avx513",
            "SHORTMEM_KERNEL=\"avx513\": unknown kernel".to_string(),
        ),
        (
            "SHORTMEM_THREADS",
            "0",
            "SHORTMEM_THREADS=\"0\": expected a positive whole number".to_string(),
        ),
    ];
    if let Some(name) = missing {
        cases.push((
            "SHORTMEM_KERNEL",
            name,
            format!("this CPU cannot run the {name} kernel"),
        ));
    }
    for bin in [env!("CARGO_BIN_EXE_ch01"), env!("CARGO_BIN_EXE_shortmem")] {
        for (var, value, says) in &cases {
            let run = Command::new(bin)
                .args(["--quick", "--out"])
                .arg(&out)
                .env(var, value)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&run.stderr);
            assert_eq!(run.status.code(), Some(2), "{bin} {var}={value}: {err}");
            assert!(err.starts_with("error: ") && err.contains(says.as_str()), "{err}");
            assert!(run.stdout.is_empty(), "{bin} {var}={value} started work");
            assert!(!out.exists(), "{bin} {var}={value} created {}", out.display());
        }
    }
}

/// Runs a chapter binary with these arguments; returns its exit status and stderr.
fn run_with(bin: &str, args: &[&str]) -> (Option<i32>, String) {
    let run = Command::new(bin).args(args).output().unwrap();
    (
        run.status.code(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

/// A text file of `chars` characters, for runs on a short corpus.
fn short_corpus(chars: usize) -> PathBuf {
    let path = std::env::temp_dir().join(format!("shortmem-short-{}-{chars}.txt", std::process::id()));
    let text: String = "Mia put the key in the box. "
        .chars()
        .cycle()
        .take(chars)
        .collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// Each value a flag cannot take is a usage error (exit status 2) that names the
/// flag, before any work: the out-of-range values that used to panic, and those
/// that used to train silently into nonsense.
#[test]
fn every_bad_flag_value_is_a_usage_error_naming_it() {
    let ch05 = env!("CARGO_BIN_EXE_ch05");
    let out = out_dir("bad-flags");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 21] = [
        (&["--batch", "0"], "'--batch <BATCH>'"),
        (&["--context", "0"], "'--context <CONTEXT>'"),
        (&["--heads", "0"], "'--heads <HEADS>'"),
        (&["--embed", "0"], "'--embed <EMBED>'"),
        (&["--ff", "0"], "'--ff <FF>'"),
        (
            &["--heads", "3", "--embed", "128"],
            "--heads 3 must divide --embed 128",
        ),
        (&["--embed", "33", "--heads", "1"], "--embed 33 must be even"),
        (&["--lr=-1"], "'--lr <LR>'"),
        (&["--clip", "-1"], "'--clip <CLIP>'"),
        (&["--clip", "0"], "'--clip <CLIP>'"),
        (&["--clip", "nan"], "'--clip <CLIP>'"),
        (&["--beta2", "1"], "'--beta2 <BETA2>'"),
        (&["--min-lr", "0.1"], "--min-lr 0.1 is above --lr 0.001"),
        (&["--steps", "0"], "'--steps <STEPS>'"),
        (
            &["--context", "70000"],
            "--context 70000 is more than the 65536 positions",
        ),
        (&["--beta2", "0.5"], "--beta2 0.5 is below AdamW's β₁ = 0.9"),
        (
            &["--lr", "2", "--weight-decay", "0.5"],
            "--lr 2 times --weight-decay 0.5 is at least 1",
        ),
        (
            &["--embed", "200000", "--heads", "1"],
            "--embed 200000 --ff 512 --layers 4 --heads 1",
        ),
        // Flags --quick overrides are checked as given, too.
        (&["--quick", "--heads", "3"], "--heads 3 must divide --embed 128"),
        (&["--load", "model.safetensors"], "cannot be used with"),
        (&["--tokens", "0"], "'--tokens <TOKENS>'"),
    ];
    for (args, says) in cases {
        let mut all = vec!["--train-only", "--out", out];
        all.extend_from_slice(args);
        let (code, err) = run_with(ch05, &all);
        assert_eq!(code, Some(2), "ch05 {args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(says),
            "ch05 {args:?}: {err}"
        );
    }
    let (code, err) = run_with(ch05, &["--load", "model.safetensors", "--prompt", ""]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("'--prompt <PROMPT>'"), "{err}");
    let (code, err) = run_with(env!("CARGO_BIN_EXE_ch03"), &["--hidden", "0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("'--hidden <HIDDEN>'"), "{err}");
    let (code, err) = run_with(env!("CARGO_BIN_EXE_ch03"), &["--hidden", "1000000", "--out", out]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--hidden 1000000 would need about"), "{err}");
    assert!(!std::path::Path::new(out).exists(), "a refused run created {out}");
}

/// A corpus too short for what a chapter reads says how long it must be, before
/// any training (it used to panic inside a sampler).
#[test]
fn a_corpus_too_short_for_a_chapter_says_how_long_it_must_be() {
    let thousand = short_corpus(1000);
    let fifteen_hundred = short_corpus(1500);
    let cases = [
        (
            env!("CARGO_BIN_EXE_ch05"),
            &thousand,
            &["--context", "899"][..],
            "ch05 needs at least 1001",
        ),
        (
            env!("CARGO_BIN_EXE_ch02"),
            &fifteen_hundred,
            &[][..],
            "ch02 needs at least 2312",
        ),
        (
            env!("CARGO_BIN_EXE_ch03"),
            &fifteen_hundred,
            &[][..],
            "ch03 needs at least 2312",
        ),
        (
            env!("CARGO_BIN_EXE_ch04"),
            &fifteen_hundred,
            &[][..],
            "ch04 needs at least 2312",
        ),
    ];
    for (bin, corpus, extra, says) in cases {
        let out = out_dir("short-corpus");
        let mut args = vec![
            "--corpus",
            corpus.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, err) = run_with(bin, &args);
        assert_eq!(code, Some(1), "{bin}: {err}");
        assert!(err.contains("has 1") && err.contains(says), "{bin}: {err}");
    }
}

/// Nothing the user owns is lost: `--save` onto the corpus is refused before
/// training; a bad prompt or an output folder that cannot be written stops the
/// run before training; a failed run leaves no empty folder behind.
#[test]
fn nothing_the_user_owns_is_lost_and_bad_paths_cost_no_training() {
    let ch05 = env!("CARGO_BIN_EXE_ch05");
    let corpus = short_corpus(3000);
    let before = std::fs::read(&corpus).unwrap();
    let c = corpus.to_str().unwrap();
    let out = out_dir("owned");
    let o = out.to_str().unwrap();
    let (code, err) = run_with(ch05, &["--quick", "--corpus", c, "--save", c, "--out", o]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is the --corpus file"), "{err}");
    assert_eq!(std::fs::read(&corpus).unwrap(), before, "the corpus was changed");
    // A prompt character the corpus lacks, found before training.
    let run = Command::new(ch05)
        .args(["--quick", "--corpus", c, "--prompt", "Zoë", "--out", o])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("--prompt has") && err.contains("'ë'"), "{err}");
    assert!(
        !String::from_utf8_lossy(&run.stdout).contains("validation loss"),
        "it trained first"
    );
    // An output folder under a file cannot be made: said at the start.
    let blocked = format!("{c}/figures");
    let (code, err) = run_with(ch05, &["--quick", "--corpus", c, "--out", &blocked]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("cannot write figures to") && err.contains("is not a folder"),
        "{err}"
    );
    assert!(!out.exists(), "a refused run created {o}");
    // A run that fails on its corpus leaves no folder in the book's figures.
    let tiny = std::env::temp_dir().join(format!("shortmem-owned-tiny-{}.txt", std::process::id()));
    std::fs::write(&tiny, "too short").unwrap();
    let (code, err) = run_with(env!("CARGO_BIN_EXE_ch01"), &["--corpus", tiny.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    let stem = tiny.file_stem().unwrap();
    let figures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("book/src/figures/ch01")
        .join(stem);
    assert!(!figures.exists(), "{} was created", figures.display());
}

/// `--threads` beyond the machine's cores is capped, with a note.
#[test]
fn more_threads_than_cores_are_capped_with_a_note() {
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .args(["--quick", "--threads", "4096", "--out"])
        .arg(out_dir("threads"))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("(--threads 4096: this machine has"), "{stdout}");
    let run = Command::new(env!("CARGO_BIN_EXE_ch01"))
        .args(["--quick", "--out"])
        .arg(out_dir("threads"))
        .env("SHORTMEM_THREADS", "4096")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("(SHORTMEM_THREADS=4096: this machine has"),
        "{stdout}"
    );
}

/// The memory experiments' results, under the names other tools read them by,
/// are in the summaries the book was built from (means over seeds, fractions
/// in 0…1, losses in nats).
#[test]
fn the_books_summaries_carry_the_memory_results_by_their_names() {
    let figures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/figures");
    let values = |chapter: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(figures.join(chapter).join("summary.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["values"].clone()
    };
    let (ch02, ch03) = (values("ch02"), values("ch03"));
    let number = |values: &serde_json::Value, chapter: &str, key: &str| {
        values[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{chapter} summary lacks {key:?}"))
    };
    for key in [
        "memory span: RNN recall at k=1",
        "memory span: RNN recall at k=16",
        "memory span: RNN recall at k=64",
        "memory span: Transformer recall at k=64",
        "mqar: attention accuracy (d=64, T=64)",
        "mqar: RNN accuracy (d=64, T=64)",
        "mqar: GRU accuracy (d=64, T=64)",
    ] {
        let v = number(&ch03, "ch03", key);
        assert!((0.0..=1.0).contains(&v), "{key}: {v}");
    }
    assert!(ch03["memory span: best RNN hidden size"].is_number());
    let losses = [
        ("ch03", &ch03, "corpus: 8-gram answer-start nats/char"),
        ("ch03", &ch03, "corpus: RNN answer-start nats/char"),
        ("ch03", &ch03, "corpus: Transformer answer-start nats/char"),
        ("ch02", &ch02, "induction: 1-layer loss on the repeat"),
        ("ch02", &ch02, "induction: 2-layer loss on the repeat"),
    ];
    for (chapter, values, key) in losses {
        let v = number(values, chapter, key);
        assert!(v > 0.0, "{key}: {v}");
    }
}

#[test]
fn ch06_quick_writes_every_application_key() {
    let out = out_dir("ch06");
    let run = Command::new(env!("CARGO_BIN_EXE_ch06"))
        .args(["--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "dialogue: Transformer accuracy",
        "dialogue: RNN accuracy",
        "dialogue (two facts): Transformer accuracy",
        "summarisation: Transformer exact match",
        "summarisation: RNN exact match",
        "translation (simple): Transformer exact match",
        "translation (length): Transformer exact match",
        "translation (simple): RNN exact match",
        "code: Transformer functional accuracy",
        "code: RNN functional accuracy",
        "dialogue (two facts): RNN accuracy",
        "translation (length): RNN exact match",
        "summarisation: Transformer item F1",
        "summarisation: RNN item F1",
    ] {
        let v = json["values"][key].as_f64();
        assert!(
            v.is_some_and(|v| (0.0..=1.0).contains(&v)),
            "summary lacks {key:?} in 0…1: {}",
            json["values"]
        );
    }
    for f in json["figures"].as_array().unwrap() {
        assert!(out.join(f.as_str().unwrap()).exists(), "figure {f} missing");
    }
}

#[test]
fn ch06_chat_answers_each_question_names_unknown_words_and_reloads() {
    use std::io::Write;
    use std::process::Stdio;
    let dir = out_dir("ch06-chat");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("dialogue.safetensors");
    let talk = "Mary went to the kitchen. Where is Mary?\n\
                Mary flew to Paris.\n\
                John moved to the garden. Where is John? Where is Mary?\n\
                Where is the apple?\n";
    let chat = |args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ch06"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(talk.as_bytes()).unwrap();
        let run = child.wait_with_output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let out = String::from_utf8_lossy(&run.stdout).to_string();
        // The replies: the lines after the greeting's last line.
        let replies: Vec<String> = out
            .lines()
            .skip_while(|l| !l.contains("symbols of our conversation"))
            .skip(1)
            .map(str::to_string)
            .collect();
        (out, replies)
    };
    let (out, trained) = chat(&["--chat", "--quick", "--save", model.to_str().unwrap()]);
    assert_eq!(trained.len(), 5, "three answers and two messages:\n{out}");
    assert!(trained[1].contains("unknown word \"flew\""), "{out}");
    assert!(trained[4].contains("Where is <person>?"), "{out}");
    assert!(
        out.contains("Saved the weights of "),
        "it says which weights it saved:\n{out}"
    );
    // The saved model answers the same conversation the same way.
    let (out, loaded) = chat(&["--chat", "--load", model.to_str().unwrap()]);
    assert_eq!(loaded, trained, "{out}");
    // A file that is not a chat model is refused by name.
    let run = Command::new(env!("CARGO_BIN_EXE_ch06"))
        .args(["--chat", "--load"])
        .arg(dir.join("missing.safetensors"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("missing.safetensors"));
}

#[test]
fn the_95_percent_interval_uses_students_t_by_hand() {
    use shortmem::chapter::mean_interval95;
    // [1, 2, 3]: mean 2, sample sd 1, t_{0.975, 2} = 4.303, half-width 4.303 / √3.
    let (mean, half) = mean_interval95(&[1.0, 2.0, 3.0]);
    assert!((mean - 2.0).abs() < 1e-12);
    assert!((half.unwrap() - 4.303 / 3f64.sqrt()).abs() < 1e-9);
    // Two runs 0.4 and 0.6: sd = 0.1414, t_{0.975, 1} = 12.706.
    let (_, half) = mean_interval95(&[0.4, 0.6]);
    assert!((half.unwrap() - 12.706 * 0.02f64.sqrt() / 2f64.sqrt()).abs() < 1e-9);
    // One run has no interval.
    assert_eq!(mean_interval95(&[0.7]), (0.7, None));
}

#[test]
fn ch07_quick_checks_profiles_and_says_when_pytorch_is_missing() {
    let out = out_dir("ch07");
    // A Python that does not exist: the PyTorch part is skipped with the command
    // to run it. (--timings: the profile and the roofline are drawn too.)
    let run = Command::new(env!("CARGO_BIN_EXE_ch07"))
        .args(["--quick", "--timings", "--python", "/nonexistent/python", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("skipped: no Python with torch"), "{stdout}");
    assert!(stdout.contains("--python"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let v = &json["values"];
    assert_eq!(v["pytorch: ran"], serde_json::Value::Bool(false));
    // 25 ops and 5 whole models pass; the wrong backward is off by its missing factor 2.
    assert_eq!(v["gradient check: cases"].as_f64(), Some(30.0));
    assert!(v["gradient check: largest relative error"].as_f64().unwrap() < 1e-4);
    let wrong = v["gradient check: wrong backward's relative error"]
        .as_f64()
        .unwrap();
    assert!(
        (wrong - 0.5).abs() < 1e-6,
        "x against 2x is 50 % off, got {wrong}"
    );
    // The profile is a timing: in measured.json, with its tables and figures.
    let measured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("measured.json")).unwrap()).unwrap();
    let share = measured["values"]["profile: matrix products' share"]
        .as_f64()
        .unwrap();
    assert!(share > 0.0 && share < 1.0);
    assert!(v.get("profile: matrix products' share").is_none());
    for f in ["profile.svg", "roofline.svg", "tables.txt", "measured.txt"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let has = |text: &str, anchor: &str| text.contains(&format!("ANCHOR: {anchor}\n"));
    assert!(has(&read("tables.txt"), "gradcheck"), "no gradcheck table");
    for anchor in ["profile", "roofline", "model-shapes", "mfu"] {
        assert!(has(&read("measured.txt"), anchor), "no {anchor} table");
    }
}

/// A rerun at the same seed writes the same summary.json and figures, byte for
/// byte; the wall-clock values go to timings.json; `--timings` puts them in
/// measured.json instead, with the figures that draw them.
#[test]
fn a_rerun_changes_no_kept_file_and_timings_are_kept_apart() {
    let ch05 = env!("CARGO_BIN_EXE_ch05");
    let run = |out: &std::path::Path, extra: &[&str]| {
        let run = Command::new(ch05)
            .args(["--quick", "--threads", "2", "--out"])
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    };
    let (first, second) = (out_dir("rerun-1"), out_dir("rerun-2"));
    run(&first, &[]);
    run(&second, &[]);
    let read = |dir: &std::path::Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    let json = |dir: &std::path::Path, name: &str| -> serde_json::Value {
        serde_json::from_slice(&read(dir, name)).unwrap()
    };
    let summary = json(&first, "summary.json");
    for figure in summary["figures"].as_array().unwrap() {
        let name = figure.as_str().unwrap();
        assert!(
            read(&first, name) == read(&second, name),
            "{name} differs between two runs"
        );
    }
    assert!(read(&first, "summary.json") == read(&second, "summary.json"));
    let timings = json(&first, "timings.json");
    assert!(timings["values"]["cache ms/token at end"].as_f64().unwrap() > 0.0);
    assert!(summary["values"].get("cache ms/token at end").is_none());
    assert!(!first.join("measured.json").exists() && !first.join("kv_cache.svg").exists());
    // --timings: measured.json and the timing figure, summary.json the same.
    let measured = out_dir("rerun-timings");
    run(&measured, &["--timings"]);
    assert!(read(&measured, "summary.json") == read(&first, "summary.json"));
    let m = json(&measured, "measured.json");
    assert!(m["values"]["tokens/s"].as_f64().unwrap() > 0.0);
    assert_eq!(m["figures"][0], "kv_cache.svg");
    assert!(m["command"].as_str().unwrap().ends_with("--timings"));
    assert!(measured.join("kv_cache.svg").exists());
    assert!(!measured.join("timings.json").exists());
}

/// The checkpoint example's command line: defaults, its two words, `--steps`,
/// and `--help` or a folder as PATH, which train nothing.
#[test]
fn the_checkpoint_examples_arguments_are_parsed_not_taken_as_a_path() {
    use shortmem::chapter::CheckpointArgs;
    let parse = |words: &[&str]| {
        CheckpointArgs::parse_from_words(std::iter::once("checkpoint").chain(words.iter().copied()))
    };
    let default = parse(&[]).unwrap();
    assert_eq!(default.path, PathBuf::from("target/checkpoint/lm.safetensors"));
    assert_eq!((default.prompt.as_str(), default.steps), ("Tom went to the", 300));
    let given = parse(&["m.safetensors", "Mia put", "--steps", "20"]).unwrap();
    assert_eq!(given.path, PathBuf::from("m.safetensors"));
    assert_eq!((given.prompt.as_str(), given.steps), ("Mia put", 20));
    assert_eq!(
        parse(&["--help"]).unwrap_err().kind(),
        clap::error::ErrorKind::DisplayHelp
    );
    assert_eq!(
        parse(&["--hlep"]).unwrap_err().kind(),
        clap::error::ErrorKind::UnknownArgument
    );
    assert!(parse(&["--steps", "0"]).is_err());
    let folder = std::env::temp_dir();
    let err = parse(&[folder.to_str().unwrap()]).unwrap_err().to_string();
    assert!(err.contains("is a folder"), "{err}");
}
