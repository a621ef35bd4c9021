//! Damaged checkpoints: whatever the bytes, loading gives a model or an error,
//! never a panic, and never takes more memory than a few times the file's size.
//!
//! Every prefix of a good file, random damage to a few bytes, metadata values
//! replaced by other numbers (small, huge, not numbers at all), and pure noise,
//! each loaded as all three kinds of model. Alone in its own test binary: the
//! allocation counter is process-wide, so no other test may run beside it.
//!
//! `cargo test --release --test checkpoint_fuzz` runs a fast set of mutations;
//! `cargo test --release --test checkpoint_fuzz -- --ignored` the large one.

use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::checkpoint::{self, Checkpointed};
use shortmem::data::CharTokenizer;
use shortmem::models::{Activation, Eq42, Eq42Config, Rnn, TransformerConfig, TransformerLM};
use shortmem::{Param, Tensor};
use std::alloc::System;
use std::panic::{AssertUnwindSafe, catch_unwind};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What loading may allocate beyond the bytes of the file: a few copies of it
/// (the parsed tensors), and for each byte of its header (at most 1 MiB) some
/// tens of bytes: the parsed JSON, and for each tensor it names a map entry, a
/// parameter the model asks for, an error if it is not the one expected.
fn allowance(bytes: &[u8]) -> usize {
    let header = bytes.get(..8).map_or(0, |b| {
        u64::from_le_bytes(b.try_into().unwrap()).min(bytes.len() as u64) as usize
    });
    4 * bytes.len() + 64 * header + (1 << 20)
}

/// A good file of each kind of model.
fn good_files() -> Vec<(&'static str, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("shortmem-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tok = CharTokenizer::from_alphabet("\n aé记z.").unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let config = TransformerConfig {
        vocab_size: 7,
        embed_dim: 8,
        num_heads: 2,
        ff_dim: 12,
        num_layers: 2,
        context: 10,
        causal: true,
    };
    let eq42 = Eq42Config {
        vocab_size: 7,
        d_model: 6,
        d_k: 4,
        d_ff: 8,
        context: 9,
    };
    let files = [
        ("transformer", dir.join("lm.safetensors")),
        ("eq42", dir.join("eq42.safetensors")),
        ("rnn", dir.join("rnn.safetensors")),
    ];
    TransformerLM::new(config, &mut rng)
        .save(&files[0].1, &tok)
        .unwrap();
    Eq42::new(eq42, &mut rng).save(&files[1].1, &tok).unwrap();
    Rnn::new(7, 5, Activation::Tanh, &mut rng)
        .save(&files[2].1, &tok)
        .unwrap();
    files
        .into_iter()
        .map(|(kind, path)| (kind, std::fs::read(path).unwrap()))
        .collect()
}

/// Loads `bytes` as every kind of model; panics (failing the test) if loading
/// panicked or allocated more than the allowance. Returns how many loads gave a
/// model.
fn load_all(bytes: &[u8], what: &str) -> usize {
    let mut models = 0;
    GLOBAL.reset_peak_memory();
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        let Ok(ckpt) = checkpoint::from_bytes(bytes, "damaged") else {
            return 0;
        };
        [
            TransformerLM::from_checkpoint(&ckpt).is_ok(),
            Eq42::from_checkpoint(&ckpt).is_ok(),
            Rnn::from_checkpoint(&ckpt).is_ok(),
        ]
        .into_iter()
        .filter(|&ok| ok)
        .count()
    }));
    let peak = GLOBAL.get_peak_memory();
    match loaded {
        Ok(n) => models += n,
        Err(_) => panic!("{what}: loading panicked"),
    }
    assert!(
        peak <= allowance(bytes),
        "{what}: loading {} bytes took {peak} bytes",
        bytes.len()
    );
    models
}

/// A metadata value a damaged or hostile file might hold instead.
fn strange_value(rng: &mut StdRng) -> String {
    match rng.random_range(0..8) {
        0 => "0".into(),
        1 => (1u64 << rng.random_range(8..64)).to_string(),
        2 => usize::MAX.to_string(),
        3 => "-3".into(),
        4 => "9".repeat(rng.random_range(1..40)),
        5 => "NaN".into(),
        6 => "x".repeat(rng.random_range(0..3000)),
        _ => rng.random_range(1..100_000).to_string(),
    }
}

/// `bytes` with one metadata value (or, now and then, one tensor) replaced.
fn edited(bytes: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut ckpt = checkpoint::from_bytes(bytes, "good").unwrap();
    let keys: Vec<String> = ckpt.metadata.keys().cloned().collect();
    let key = &keys[rng.random_range(0..keys.len())];
    ckpt.metadata.insert(key.clone(), strange_value(rng));
    if rng.random_range(0..8) == 0 {
        // Many small tensors the model does not have, beside a large block count.
        for i in 0..rng.random_range(1..4000) {
            ckpt.tensors
                .insert(format!("junk.{i}"), Tensor::zeros([rng.random_range(0..2)]));
        }
        ckpt.metadata
            .insert("num_layers".into(), rng.random_range(0..100_000).to_string());
    } else if rng.random_range(0..4) == 0 {
        // A tensor of another shape, or one holding a NaN.
        let names: Vec<String> = ckpt.tensors.keys().cloned().collect();
        let name = &names[rng.random_range(0..names.len())];
        let value = match rng.random_range(0..2) {
            0 => Tensor::zeros([rng.random_range(0..5), rng.random_range(1..5)]),
            _ => Tensor::from_vec([2], vec![1.0, f32::NAN]),
        };
        ckpt.tensors.insert(name.clone(), value);
    }
    let params: Vec<Param> = ckpt.tensors.into_iter().map(|(n, t)| Param::new(n, t)).collect();
    let metadata: Vec<(&str, String)> = ckpt
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let path = std::env::temp_dir().join(format!("shortmem-fuzz-edit-{}.safetensors", std::process::id()));
    checkpoint::save(&path, &params.iter().collect::<Vec<_>>(), &metadata).unwrap();
    std::fs::read(&path).unwrap()
}

/// Every prefix of each good file, then `n` damaged files of each kind (half
/// with a few bytes changed, half with a metadata value or tensor replaced),
/// then noise. Returns the number of loads.
fn fuzz(n: usize, seed: u64) -> usize {
    // One fuzz run at a time: the allocation counter is the whole process's.
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut loads = 0;
    for (kind, good) in good_files() {
        assert_eq!(
            load_all(&good, kind),
            1,
            "the good {kind} file loads as its own kind only"
        );
        for len in 0..good.len() {
            assert_eq!(
                load_all(&good[..len], &format!("{kind}: prefix of {len} bytes")),
                0
            );
            loads += 3;
        }
        for i in 0..n {
            let damaged = if i % 2 == 0 {
                let mut d = good.clone();
                for _ in 0..rng.random_range(1..4) {
                    let at = rng.random_range(0..d.len());
                    d[at] = rng.random();
                }
                d
            } else {
                edited(&good, &mut rng)
            };
            load_all(&damaged, &format!("{kind}: damaged file {i}"));
            loads += 3;
        }
    }
    for len in 0..200 {
        let noise: Vec<u8> = (0..len * 3).map(|_| rng.random()).collect();
        assert_eq!(load_all(&noise, "noise"), 0);
        loads += 3;
    }
    loads
}

#[test]
fn damaged_checkpoints_never_panic_nor_take_much_memory() {
    let loads = fuzz(1000, 8);
    println!("{loads} loads");
}

/// The large run (about ten times longer).
#[test]
#[ignore = "the large run: cargo test --release --test checkpoint_fuzz -- --ignored"]
fn damaged_checkpoints_large_run() {
    let loads = fuzz(12_000, 9);
    println!("{loads} loads");
}
