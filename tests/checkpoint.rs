//! Checkpoints: a round trip for each model (same parameters, same logits, same
//! tokenizer), and every kind of bad file giving its own clear error, never a
//! panic. The bad files are written into a temporary folder by the tests.

use rand::SeedableRng;
use rand::rngs::StdRng;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use shortmem::checkpoint::{self, CheckpointError, Checkpointed};
use shortmem::data::CharTokenizer;
use shortmem::models::{Activation, Eq42, Eq42Config, Rnn, TransformerConfig, TransformerLM};
use shortmem::{Graph, Module, Param, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A fresh folder for one test's files.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shortmem-checkpoint-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Seven characters, among them a newline, a space and non-ASCII.
fn tokenizer() -> CharTokenizer {
    CharTokenizer::from_alphabet("\n aé记z.").unwrap()
}

fn config() -> TransformerConfig {
    TransformerConfig {
        vocab_size: 7,
        embed_dim: 8,
        num_heads: 2,
        ff_dim: 12,
        num_layers: 2,
        context: 10,
        causal: true,
    }
}

/// A small Transformer whose every parameter is random (no zero biases).
fn transformer(seed: u64) -> TransformerLM {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut model = TransformerLM::new(config(), &mut rng);
    for p in model.params_mut() {
        p.value = Tensor::randn(p.value.dims(), 0.0, 0.5, &mut rng);
    }
    model
}

const IDS: [usize; 12] = [0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2];

fn same_params<M: Module<f32>>(a: &M, b: &M) {
    let (pa, pb) = (a.params(), b.params());
    assert_eq!(pa.len(), pb.len());
    for (x, y) in pa.iter().zip(&pb) {
        assert_eq!(x.name, y.name);
        assert_eq!(x.value.dims(), y.value.dims(), "{}", x.name);
        assert_eq!(x.value.data(), y.value.data(), "{}", x.name);
    }
}

fn logits(m: &TransformerLM) -> Vec<f32> {
    let g = Graph::inference();
    m.forward(&g, &IDS, 2, 6).value().into_vec()
}

// ---------------------------------------------------------------- round trips

#[test]
fn sec_5_transformer_checkpoint_round_trip() {
    let dir = temp_dir("lm-round-trip");
    let path = dir.join("lm.safetensors");
    let model = transformer(1);
    model.save(&path, &tokenizer()).unwrap();
    let (loaded, tok) = TransformerLM::load(&path).unwrap();
    assert_eq!(loaded.config, model.config);
    assert_eq!(tok, tokenizer());
    same_params(&model, &loaded);
    assert_eq!(logits(&model), logits(&loaded), "identical logits");

    // The file is plain safetensors: F32 tensors under the state_dict names,
    // and the metadata the issue lists.
    let ckpt = checkpoint::load(&path).unwrap();
    let names: Vec<&str> = ckpt.tensors.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = model.params().iter().map(|p| p.name.as_str()).collect();
    want.sort();
    assert_eq!(names, want);
    let meta: Vec<(&str, &str)> = ckpt
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        meta,
        [
            ("alphabet", "\n aé记z."),
            ("causal", "true"),
            ("context", "10"),
            ("embed_dim", "8"),
            ("ff_dim", "12"),
            ("model", "transformer_lm"),
            ("num_heads", "2"),
            ("num_layers", "2"),
            ("vocab_size", "7"),
        ]
    );
}

#[test]
fn sec_5_unmasked_transformer_keeps_causal_false() {
    let dir = temp_dir("lm-unmasked");
    let path = dir.join("lm.safetensors");
    let mut model = transformer(2);
    model.config.causal = false;
    model.save(&path, &tokenizer()).unwrap();
    let (loaded, _) = TransformerLM::load(&path).unwrap();
    assert!(!loaded.config.causal);
    assert_eq!(logits(&model), logits(&loaded));
}

#[test]
fn eq_4_2_checkpoint_round_trip() {
    let dir = temp_dir("eq42-round-trip");
    let path = dir.join("eq42.safetensors");
    let cfg = Eq42Config {
        vocab_size: 7,
        d_model: 6,
        d_k: 4,
        d_ff: 10,
        context: 8,
    };
    let model = Eq42::new(cfg, &mut StdRng::seed_from_u64(3));
    model.save(&path, &tokenizer()).unwrap();
    let (loaded, tok) = Eq42::load(&path).unwrap();
    assert_eq!(loaded.config, cfg);
    assert_eq!(tok, tokenizer());
    same_params(&model, &loaded);
    let run = |m: &Eq42| {
        let g = Graph::inference();
        m.trace(&g, &IDS, 2, 6).logits.value().into_vec()
    };
    assert_eq!(run(&model), run(&loaded));
}

#[test]
fn eq_4_1_rnn_checkpoint_round_trip() {
    for f in [Activation::Tanh, Activation::Relu] {
        let dir = temp_dir("rnn-round-trip");
        let path = dir.join(format!("rnn-{f}.safetensors"));
        let model = Rnn::new(7, 5, f, &mut StdRng::seed_from_u64(4));
        model.save(&path, &tokenizer()).unwrap();
        let (loaded, tok) = Rnn::load(&path).unwrap();
        assert_eq!(loaded.f, f);
        assert_eq!(tok, tokenizer());
        same_params(&model, &loaded);
        let run = |m: &Rnn| {
            let g = Graph::inference();
            m.forward(&g, &IDS, 2, 6, None).logits.value().into_vec()
        };
        assert_eq!(run(&model), run(&loaded));
    }
}

// ---------------------------------------------------------------- errors

/// The error of loading `path` as a Transformer; its message must name the file.
fn lm_error(path: &Path) -> CheckpointError {
    let err = match TransformerLM::load(path) {
        Ok(_) => panic!("{} loaded, but it should not", path.display()),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "the message names the file: {msg}"
    );
    err
}

/// Saves a good Transformer checkpoint, lets `edit` change its tensors and
/// metadata, writes the result to `name` in `dir` and returns its path.
fn edited(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut BTreeMap<String, Tensor>, &mut BTreeMap<String, String>),
) -> PathBuf {
    let good = dir.join("good.safetensors");
    transformer(5).save(&good, &tokenizer()).unwrap();
    let mut ckpt = checkpoint::load(&good).unwrap();
    edit(&mut ckpt.tensors, &mut ckpt.metadata);
    let params: Vec<Param> = ckpt.tensors.into_iter().map(|(n, t)| Param::new(n, t)).collect();
    let metadata: Vec<(&str, String)> = ckpt
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let path = dir.join(name);
    checkpoint::save(&path, &params.iter().collect::<Vec<_>>(), &metadata).unwrap();
    path
}

#[test]
fn sec_5_checkpoint_missing_file() {
    let path = temp_dir("missing").join("no-such-file.safetensors");
    let err = lm_error(&path);
    assert!(matches!(err, CheckpointError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("no such file"), "{err}");
}

#[test]
fn sec_5_checkpoint_truncated_or_corrupt_files() {
    let dir = temp_dir("corrupt");
    let good = dir.join("good.safetensors");
    transformer(6).save(&good, &tokenizer()).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "8 bytes"),
        ("text", b"this is not a checkpoint".to_vec(), "header's length"),
        (
            "header-cut",
            bytes[..8 + header_len / 2].to_vec(),
            "header's length",
        ),
        ("data-cut", bytes[..bytes.len() - 4].to_vec(), "truncated"),
        ("extra-bytes", [&bytes[..], &[0u8; 4]].concat(), "extra bytes"),
        (
            "not-json",
            [&bytes[..8], &vec![b'!'; header_len], &bytes[8 + header_len..]].concat(),
            "JSON",
        ),
    ];
    for (name, content, says) in cases {
        let path = dir.join(format!("{name}.safetensors"));
        std::fs::write(&path, content).unwrap();
        let err = lm_error(&path);
        assert!(matches!(err, CheckpointError::Corrupt { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(says), "{name}: {err}");
    }
}

// (Damaged and random bytes: tests/checkpoint_fuzz.rs.)

#[test]
fn sec_5_checkpoint_missing_tensor_is_named() {
    let dir = temp_dir("missing-tensor");
    let path = edited(&dir, "missing.safetensors", |t, _| {
        t.remove("blocks.1.ff.2.weight");
    });
    let err = lm_error(&path);
    assert!(
        matches!(&err, CheckpointError::MissingTensor { name, .. } if name == "blocks.1.ff.2.weight"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("`blocks.1.ff.2.weight` is missing"),
        "{err}"
    );
}

#[test]
fn sec_5_checkpoint_unexpected_tensor_is_named() {
    let dir = temp_dir("extra-tensor");
    let path = edited(&dir, "extra.safetensors", |t, _| {
        t.insert("blocks.0.attention.bias_k".into(), Tensor::zeros([1, 1, 8]));
    });
    let err = lm_error(&path);
    assert!(
        matches!(&err, CheckpointError::UnexpectedTensor { name, .. } if name == "blocks.0.attention.bias_k"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("unexpected tensor `blocks.0.attention.bias_k`"),
        "{err}"
    );
}

#[test]
fn sec_5_checkpoint_wrong_shape_names_both_shapes() {
    let dir = temp_dir("wrong-shape");
    // A transposed weight, as a mistaken exporter would write it.
    let path = edited(&dir, "transposed.safetensors", |t, _| {
        t.insert("blocks.0.ff.0.weight".into(), Tensor::zeros([8, 12]));
    });
    let err = lm_error(&path);
    match &err {
        CheckpointError::WrongShape {
            name,
            expected,
            found,
            ..
        } => {
            assert_eq!(
                (name.as_str(), &expected[..], &found[..]),
                ("blocks.0.ff.0.weight", &[12, 8][..], &[8, 12][..])
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("has shape [8, 12], expected [12, 8]"),
        "{err}"
    );

    // Metadata that disagrees with the tensors: the first tensor to differ is named.
    let path = edited(&dir, "wrong-ff.safetensors", |_, m| {
        m.insert("ff_dim".into(), "16".into());
    });
    let err = lm_error(&path);
    assert!(
        matches!(&err, CheckpointError::WrongShape { name, .. } if name == "blocks.0.ff.0.weight"),
        "{err:?}"
    );
}

#[test]
fn sec_5_checkpoint_wrong_dtype_is_named() {
    let dir = temp_dir("wrong-dtype");
    for (dtype, width) in [(Dtype::F16, 2), (Dtype::F64, 8), (Dtype::BF16, 2)] {
        let bytes = vec![0u8; 7 * width];
        let view = TensorView::new(dtype, vec![7], &bytes).unwrap();
        let meta = HashMap::from([("model".to_string(), "transformer_lm".to_string())]);
        let file = safetensors::serialize([("out.bias", view)], Some(meta)).unwrap();
        let path = dir.join(format!("{dtype:?}.safetensors"));
        std::fs::write(&path, file).unwrap();
        let err = lm_error(&path);
        let found = format!("{dtype:?}");
        assert!(
            matches!(&err, CheckpointError::WrongDtype { name, found: f, .. } if name == "out.bias" && *f == found),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("`out.bias` is {found}, expected F32")),
            "{err}"
        );
    }
}

#[test]
fn sec_5_checkpoint_missing_metadata_is_named() {
    let dir = temp_dir("missing-metadata");
    for key in ["model", "num_heads", "causal", "alphabet", "context"] {
        let path = edited(&dir, &format!("no-{key}.safetensors"), |_, m| {
            m.remove(key);
        });
        let err = lm_error(&path);
        assert!(
            matches!(&err, CheckpointError::MissingMetadata { key: k, .. } if k == key),
            "{key}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("metadata key `{key}` is missing")),
            "{err}"
        );
    }
}

#[test]
fn sec_5_checkpoint_unparsable_metadata_is_named() {
    let dir = temp_dir("bad-metadata");
    let cases = [
        ("num_heads", "four", "invalid digit"),
        ("embed_dim", "-8", "invalid digit"),
        ("causal", "yes", "true"),
        ("num_heads", "3", "divisible"),
        ("vocab_size", "0", "at least 1"),
        ("context", "99999999999", "maximum"),
        ("num_layers", "1000000", "cannot hold"),
        ("alphabet", "\n aé记z", "6 characters, but vocab_size is 7"),
        ("alphabet", "\n aé记zz", "repeats"),
    ];
    for (i, (key, value, says)) in cases.into_iter().enumerate() {
        let path = edited(&dir, &format!("bad-{i}.safetensors"), |_, m| {
            m.insert(key.into(), value.into());
        });
        let err = lm_error(&path);
        assert!(
            matches!(&err, CheckpointError::BadMetadata { value: v, .. } if v == value),
            "{key}={value:?}: {err:?}"
        );
        assert!(err.to_string().contains(says), "{key}={value:?}: {err}");
    }
}

#[test]
fn sec_5_checkpoint_wrong_model_kind() {
    let dir = temp_dir("wrong-model");
    let path = dir.join("rnn.safetensors");
    Rnn::new(7, 5, Activation::Tanh, &mut StdRng::seed_from_u64(9))
        .save(&path, &tokenizer())
        .unwrap();
    let err = lm_error(&path);
    assert!(
        matches!(&err, CheckpointError::WrongModel { expected, found, .. }
            if expected == "transformer_lm" && found == "rnn"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("holds a `rnn` model, expected `transformer_lm`"),
        "{err}"
    );
    assert!(matches!(
        Eq42::load(&path),
        Err(CheckpointError::WrongModel { .. })
    ));
}

#[test]
fn eq_4_1_rnn_checkpoint_errors() {
    let dir = temp_dir("rnn-errors");
    let path = dir.join("rnn.safetensors");
    let model = Rnn::new(7, 5, Activation::Tanh, &mut StdRng::seed_from_u64(10));
    model.save(&path, &tokenizer()).unwrap();
    let mut ckpt = checkpoint::load(&path).unwrap();
    ckpt.metadata.insert("activation".into(), "sigmoid".into());
    let err = Rnn::from_checkpoint(&ckpt).err().unwrap();
    assert!(err.to_string().contains("expected `tanh` or `relu`"), "{err}");
    ckpt.metadata.insert("activation".into(), "tanh".into());
    ckpt.metadata.insert("hidden_size".into(), "6".into());
    let err = Rnn::from_checkpoint(&ckpt).err().unwrap();
    assert!(
        err.to_string().contains("`U` has shape [5, 7], expected [6, 7]"),
        "{err}"
    );
}

#[test]
fn saving_with_a_tokenizer_of_another_size_is_refused() {
    let dir = temp_dir("save-mismatch");
    let small = CharTokenizer::from_alphabet("ab").unwrap();
    let err = transformer(11)
        .save(dir.join("x.safetensors"), &small)
        .err()
        .unwrap();
    assert!(matches!(err, CheckpointError::BadMetadata { .. }), "{err:?}");
    assert!(!dir.join("x.safetensors").exists());
    // A folder that does not exist is an I/O error naming the path.
    let err = transformer(11)
        .save(dir.join("no/such/dir/x.safetensors"), &tokenizer())
        .err()
        .unwrap();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err:?}");
}

/// A file of a few hundred bytes whose metadata ask for a huge width and
/// context, and no tensor at all: refused before the positional table (context
/// × width floats, 2⁴⁰ of them here) is built, naming the missing tensor.
#[test]
fn metadata_without_tensors_is_refused_before_anything_is_built() {
    let dir = temp_dir("metadata-only");
    let alphabet = "abcdefg".to_string();
    // (model, its sizes, the first tensor it needs)
    type Case = (&'static str, Vec<(&'static str, String)>, &'static str);
    let cases: [Case; 2] = [
        (
            "transformer_lm",
            vec![
                ("embed_dim", (1usize << 24).to_string()),
                ("num_heads", "1".into()),
                ("ff_dim", "1".into()),
                ("num_layers", "0".into()),
            ],
            "embed.weight",
        ),
        (
            "eq42",
            vec![
                ("d_model", (1usize << 24).to_string()),
                ("d_k", "1".into()),
                ("d_ff", "1".into()),
            ],
            "E",
        ),
    ];
    for (kind, sizes, first) in cases {
        let mut metadata = vec![
            ("model", kind.to_string()),
            ("vocab_size", "7".to_string()),
            ("context", checkpoint::MAX_CONTEXT.to_string()),
            ("causal", "true".to_string()),
            ("alphabet", alphabet.clone()),
        ];
        metadata.extend(sizes);
        let path = dir.join(format!("{kind}.safetensors"));
        checkpoint::save(&path, &[], &metadata).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 1000);
        let ckpt = checkpoint::load(&path).unwrap();
        let err = match kind {
            "eq42" => Eq42::from_checkpoint(&ckpt).err().unwrap(),
            _ => TransformerLM::from_checkpoint(&ckpt).err().unwrap(),
        };
        assert!(
            matches!(&err, CheckpointError::MissingTensor { name, .. } if name == first),
            "{kind}: {err:?}"
        );
    }
}

/// A metadata value a million characters long is quoted by its first hundred.
#[test]
fn a_long_metadata_value_is_quoted_short() {
    let dir = temp_dir("long-value");
    let path = edited(&dir, "long.safetensors", |_, m| {
        m.insert("alphabet".into(), "x".repeat(1_000_000));
    });
    let msg = lm_error(&path).to_string();
    assert!(
        msg.len() < 400,
        "{} characters: {}",
        msg.len(),
        &msg[..400.min(msg.len())]
    );
    assert!(msg.contains("… (1000000 characters)"), "{msg}");
}

/// A header length beyond the end of the file says how far beyond; one beyond
/// any sensible header says so before anything is parsed.
#[test]
fn a_header_longer_than_the_file_says_so() {
    for (claimed, says) in [
        (5000u64, "is 5000 bytes, but only 8 bytes follow"),
        (
            1 << 40,
            "is 1099511627776 bytes, more than the 1024 KiB a checkpoint's header may have",
        ),
    ] {
        let mut bytes = claimed.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}      ");
        let err = checkpoint::from_bytes(&bytes, "x.safetensors").unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
}

/// A device, a folder or a pipe is not read: `/dev/zero` would never end.
#[test]
fn a_checkpoint_or_corpus_that_is_not_a_regular_file_is_refused_unread() {
    let err = TransformerLM::load("/dev/zero").err().unwrap();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let err = shortmem::data::load_text("/dev/zero").unwrap_err();
    assert!(err.to_string().contains("is not a regular file"), "{err}");
    let err = shortmem::data::load_text(std::env::temp_dir()).unwrap_err();
    assert!(err.to_string().contains("is not a regular file"), "{err}");
}

/// A weight that is NaN or infinite is refused at load, with its name and place.
#[test]
fn non_finite_weights_are_refused_with_the_tensor_name() {
    let dir = temp_dir("non-finite");
    for (i, bad) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
        .into_iter()
        .enumerate()
    {
        let path = edited(&dir, &format!("bad-{i}.safetensors"), |t, _| {
            let w = t.get_mut("blocks.1.norm2.weight").unwrap();
            w.data_mut()[3] = bad;
        });
        let err = lm_error(&path);
        assert!(
            matches!(&err, CheckpointError::NotFinite { name, index: 3, .. } if name == "blocks.1.norm2.weight"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains(&format!("`blocks.1.norm2.weight` holds {bad} at element 3")),
            "{err}"
        );
    }
}

/// A model whose context is edited to the largest allowed loads at once and
/// works: its positional table and cache grow only as far as it reads.
#[test]
fn a_long_context_costs_nothing_until_it_is_read() {
    let dir = temp_dir("long-context");
    let path = edited(&dir, "long.safetensors", |_, m| {
        m.insert("context".into(), checkpoint::MAX_CONTEXT.to_string());
    });
    let (model, _) = TransformerLM::load(&path).unwrap();
    assert_eq!(model.config.context, checkpoint::MAX_CONTEXT);
    let short = model.next_logits(&[1, 2, 3]);
    let (mut cache, mut cached) = (shortmem::models::KvCache::new(&model.config), Vec::new());
    for t in [1, 2, 3] {
        cached = model.step_cached(&mut cache, t);
    }
    let worst = short
        .iter()
        .zip(&cached)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-5, "{worst}");
}

/// Saving writes to a temporary file of its own and renames it: a file of the
/// user's called like the old temporary name (`X.partial`) is left alone, and
/// no temporary file is left behind.
#[test]
fn saving_leaves_the_users_files_alone() {
    let dir = temp_dir("partial");
    let path = dir.join("x.safetensors");
    let theirs = dir.join("x.partial");
    std::fs::write(&theirs, "the user's notes").unwrap();
    transformer(12).save(&path, &tokenizer()).unwrap();
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "the user's notes");
    TransformerLM::load(&path).unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

/// The file `tools/continue_in_pytorch.py` writes loads here with the same
/// sizes and alphabet as the checkpoint it continued, and gives the logits that
/// PyTorch computed for it (its report, written beside it). The fixture was made
/// once, with torch 2.15:
///
/// ```text
/// cargo run --release --bin ch05 -- --corpus tests/fixtures/handover.txt --embed 16 --heads 2 --ff 32 \
///     --layers 2 --context 16 --steps 60 --warmup 5 --train-only --save tests/fixtures/handover.safetensors
/// python tools/continue_in_pytorch.py tests/fixtures/handover.safetensors --corpus tests/fixtures/handover.txt \
///     --steps 3 --batch 4 --out tests/fixtures/handover_pytorch.safetensors
/// ```
#[test]
fn what_continue_in_pytorch_writes_loads_here_with_pytorchs_logits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (before, tok_before) = TransformerLM::load(dir.join("handover.safetensors")).unwrap();
    let (after, tok) = TransformerLM::load(dir.join("handover_pytorch.safetensors")).unwrap();
    assert_eq!(tok.alphabet(), tok_before.alphabet());
    assert_eq!(after.config, before.config);
    // Every tensor little-endian F32 under the names shortmem gives its parameters.
    let bytes = std::fs::read(dir.join("handover_pytorch.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    let mut want: Vec<String> = after.params().iter().map(|p| p.name.clone()).collect();
    want.sort();
    assert_eq!(names, want);
    assert!(file.tensors().iter().all(|(_, t)| t.dtype() == Dtype::F32));
    // PyTorch's logits after the report's prompt, against ours.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("handover_pytorch.safetensors.json")).unwrap(),
    )
    .unwrap();
    let ids = tok.encode(report["prompt"].as_str().unwrap()).unwrap();
    let g = Graph::inference();
    let logits = after.forward(&g, &ids, 1, ids.len()).value();
    let v = after.config.vocab_size;
    let ours = &logits.data()[(ids.len() - 1) * v..];
    let theirs: Vec<f64> = report["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((*a as f64 - b).abs() <= 1e-4, "logit {a} here, {b} in PyTorch");
    }
    // Training moved the weights: the file is not the checkpoint it started from.
    assert_ne!(after.params()[0].value.data(), before.params()[0].value.data());
}
