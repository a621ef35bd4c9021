//! The common trainer: it drives a toy model's loss down, evaluates
//! deterministically, and stops with the step named when numbers go bad.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::data::{Batch, Dataset, Split};
use shortmem::models::{Bigram, LanguageModel};
use shortmem::optim::{AdamW, DecayFilter};
use shortmem::train::{TrainConfig, TrainError, evaluate, train};
use shortmem::{Graph, Module, Param, Tensor, Var};

fn cyclic_text() -> String {
    // After each letter the next one is certain: a bigram can reach loss ≈ 0.
    "abcdefg".repeat(300)
}

#[test]
fn trainer_drives_a_bigram_to_near_zero_loss() {
    let data = Dataset::from_text(&cyclic_text());
    let mut model = Bigram::new(data.vocab_size(), &mut StdRng::seed_from_u64(0));
    let mut cfg = TrainConfig::new(300, 8, 16, 0.1);
    cfg.progress = false;
    let mut opt = AdamW::nanogpt(0.1).weight_decay(0.0, DecayFilter::MatricesOnly);
    let before = evaluate(&model, &data, Split::Val, &cfg);
    let history = train(&mut model, &mut opt, &data, &cfg).unwrap();
    assert!(before > 1.0, "untrained loss {before}");
    assert!(
        history.final_val() < 0.05,
        "validation loss {}",
        history.final_val()
    );
    assert_eq!(history.train.len(), 300);
    assert_eq!(history.val.len(), 20, "validated every steps/20 steps");
    assert_eq!(history.tokens, 300 * 8 * 16);
    assert!(history.tokens_per_second() > 0.0);
    // Evaluation is deterministic: the same windows each time.
    assert_eq!(
        evaluate(&model, &data, Split::Val, &cfg),
        evaluate(&model, &data, Split::Val, &cfg)
    );
}

shortmem::module! {
    /// A model whose logits become NaN from a given step on.
    struct Explodes<E> {
        params {
            w: Param<E>,
        }
        calls: std::sync::atomic::AtomicUsize,
        at: usize,
    }
}

impl LanguageModel for Explodes {
    type State = ();
    fn vocab_size(&self) -> usize {
        self.w.value.dims()[1]
    }
    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let logits = g
            .param(&self.w)
            .embedding(&batch.inputs, [batch.batch, batch.time]);
        if n >= self.at {
            logits * g.constant(Tensor::scalar(f32::NAN))
        } else {
            logits
        }
    }
}

#[test]
fn trainer_stops_at_the_step_where_the_loss_is_not_finite() {
    let data = Dataset::from_text(&cyclic_text());
    let v = data.vocab_size();
    // 5 steps with 1 validation each: calls 0..4 are steps 0..4 and validation after
    // step 4 (eval_every = 5) — make the 4th training call explode: step 3.
    let mut model = Explodes {
        w: Param::new("w", Tensor::zeros([v, v])),
        calls: std::sync::atomic::AtomicUsize::new(0),
        at: 3,
    };
    let mut cfg = TrainConfig::new(5, 2, 8, 0.01);
    cfg.progress = false;
    cfg.eval_every = 100;
    cfg.shards = Some(1); // one call of `logits` per step
    let err = train(&mut model, &mut AdamW::nanogpt(0.01), &data, &cfg).unwrap_err();
    assert!(
        matches!(err, TrainError::NonFiniteLoss { step: 3, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("training stopped at step 3: the loss is NaN"),
        "{err}"
    );
}

#[test]
fn trainer_names_the_parameter_with_a_non_finite_gradient() {
    // A custom op whose backward writes an infinity into the gradient.
    shortmem::module! {
        struct BadGrad<E> {
            params {
                w: Param<E>,
            }
        }
    }
    impl LanguageModel for BadGrad {
        type State = ();
        fn vocab_size(&self) -> usize {
            self.w.value.dims()[1]
        }
        fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
            let w = g.param(&self.w);
            let id = w.id();
            let poisoned = g.op(
                "custom",
                w.value(),
                &[w],
                Box::new(move |_dy, grads| {
                    if let Some(s) = grads.slot(id) {
                        s[0] = f32::INFINITY;
                    }
                }),
            );
            poisoned.embedding(&batch.inputs, [batch.batch, batch.time])
        }
    }
    let data = Dataset::from_text(&cyclic_text());
    let v = data.vocab_size();
    let mut model = BadGrad {
        w: Param::new("blocks.0.poison", Tensor::zeros([v, v])),
    };
    let mut cfg = TrainConfig::new(3, 2, 8, 0.01);
    cfg.progress = false;
    let err = train(&mut model, &mut AdamW::nanogpt(0.01), &data, &cfg).unwrap_err();
    assert_eq!(
        err,
        TrainError::NonFiniteGradient {
            step: 0,
            param: "blocks.0.poison".into()
        }
    );
}

#[test]
fn per_token_loss_matches_a_single_pass_over_the_text() {
    use shortmem::models::{Activation, Rnn};
    use shortmem::tasks::per_token_loss;
    let data = Dataset::from_text(&"the cat sat on the mat. ".repeat(60));
    let tokens = &data.train[..121];
    // An RNN read in windows of 16 with its state carried equals one pass of 120 steps.
    let rnn = Rnn::<f32>::new(
        data.vocab_size(),
        8,
        Activation::Tanh,
        &mut StdRng::seed_from_u64(3),
    );
    let windowed = per_token_loss(&rnn, tokens, 16);
    let g = Graph::new();
    let logits = rnn
        .forward(&g, &tokens[..120], 1, 120, None)
        .logits
        .log_softmax()
        .value();
    let v = data.vocab_size();
    for i in 0..120 {
        let direct = -(logits.data()[i * v + tokens[i + 1]] as f64);
        assert!(
            (windowed[i] - direct).abs() < 1e-4,
            "position {i}: {} vs {direct}",
            windowed[i]
        );
    }
    // A bigram needs no history: every window gives the same per-token loss.
    let bigram = Bigram::new(v, &mut StdRng::seed_from_u64(4));
    let a = per_token_loss(&bigram, tokens, 16);
    let b = per_token_loss(&bigram, tokens, 50);
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-9) && a.iter().all(|x| x.is_finite()));
}

#[test]
fn sharded_gradients_equal_the_whole_batch_gradient() {
    use shortmem::models::{Activation, Hidden, Rnn, TransformerConfig, TransformerLM};
    use shortmem::train::batch_gradients;
    let data = Dataset::from_text(&cyclic_text());
    let v = data.vocab_size();
    let batch = shortmem::data::random_batch(&data.train, 6, 10, &mut StdRng::seed_from_u64(8));
    fn grads_of<M: Module<f32>>(m: &M) -> Vec<f32> {
        m.params()
            .iter()
            .flat_map(|p| p.grad.as_ref().unwrap().data().to_vec())
            .collect()
    }
    let close = |a: &[f32], b: &[f32], what: &str| {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-6 + 1e-4 * x.abs().max(y.abs()),
                "{what}: gradient {i}: {x} vs {y}"
            );
        }
    };
    let config = TransformerConfig {
        vocab_size: v,
        embed_dim: 8,
        num_heads: 2,
        ff_dim: 16,
        num_layers: 1,
        context: 10,
        causal: true,
    };
    fn lm_loss<'g>(m: &TransformerLM, g: &'g Graph, b: &Batch, _: &mut ()) -> Var<'g> {
        m.forward(g, &b.inputs, b.batch, b.time).cross_entropy(&b.targets)
    }
    let mut whole = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(9));
    let mut split = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(9));
    let (l1, _) = batch_gradients(&mut whole, &batch, (), 1, &lm_loss);
    let (l3, _) = batch_gradients(&mut split, &batch, (), 3, &lm_loss);
    assert!((l1 - l3).abs() < 1e-6, "losses {l1} vs {l3}");
    close(&grads_of(&whole), &grads_of(&split), "transformer");
    // A recurrent model's carried state is split and rejoined by rows too.
    let h0 = Tensor::<f32>::randn([6, 8], 0.0, 0.5, &mut StdRng::seed_from_u64(11));
    fn rnn_loss<'g>(m: &Rnn, g: &'g Graph, b: &Batch, h: &mut Hidden) -> Var<'g> {
        m.logits_after(g, b, h).cross_entropy(&b.targets)
    }
    let mut whole = Rnn::<f32>::new(v, 8, Activation::Tanh, &mut StdRng::seed_from_u64(10));
    let mut split = Rnn::<f32>::new(v, 8, Activation::Tanh, &mut StdRng::seed_from_u64(10));
    let (_, c1) = batch_gradients(&mut whole, &batch, Hidden(Some(h0.clone())), 1, &rnn_loss);
    let (_, c2) = batch_gradients(&mut split, &batch, Hidden(Some(h0)), 2, &rnn_loss);
    close(&grads_of(&whole), &grads_of(&split), "rnn");
    assert!(c1.0.unwrap().max_abs_diff(&c2.0.unwrap()) < 1e-6, "carried state");
}

/// The same seed and thread count give the same numbers to the last bit; one
/// and two shards agree closely but not bit for bit (the gradient is summed in
/// another order).
#[test]
fn training_twice_is_bit_identical_and_shards_agree_closely() {
    use shortmem::models::{TransformerConfig, TransformerLM};
    let data = Dataset::from_text(&"Mia put the key in the box. Tom took it. ".repeat(40));
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: 16,
        num_heads: 2,
        ff_dim: 32,
        num_layers: 2,
        context: 16,
        causal: true,
    };
    let run = |shards: usize| {
        let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(3));
        let mut cfg = TrainConfig::new(30, 8, 16, 3e-3);
        cfg.progress = false;
        cfg.shards = Some(shards);
        let history = train(&mut model, &mut AdamW::nanogpt(3e-3), &data, &cfg).unwrap();
        history.train.iter().map(|&(_, l)| l).collect::<Vec<f64>>()
    };
    let (once, twice) = (run(1), run(1));
    assert_eq!(once, twice, "the same run twice");
    let split = run(2);
    assert_eq!(split, run(2), "the same two-shard run twice");
    let worst = once
        .iter()
        .zip(&split)
        .map(|(a, b)| (a - b).abs() / a.abs())
        .fold(0.0, f64::max);
    println!("largest relative difference between 1 and 2 shards over 30 steps: {worst:.1e}");
    for (step, (a, b)) in once.iter().zip(&split).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs(),
            "step {step}: 1 shard {a}, 2 shards {b}"
        );
    }
}

/// The overfitting warning fires on a hand-made run whose validation loss
/// falls, then rises for three validations past its lowest point while the
/// training loss still falls; not on one that levels off, wobbles within 1 %,
/// has just started rising, or diverges (both losses rising).
#[test]
fn overfitting_is_a_validation_loss_risen_for_a_while() {
    use shortmem::train::{Overfitting, overfitting};
    // Validations every 100 steps; the training loss of every step.
    let curve =
        |v: &[f64]| -> Vec<(usize, f64)> { v.iter().enumerate().map(|(i, &l)| (100 * (i + 1), l)).collect() };
    let falling: Vec<(usize, f64)> = (0..500).map(|s| (s, 5.0 - 0.005 * s as f64)).collect();
    let rising: Vec<(usize, f64)> = (0..500).map(|s| (s, 1.0 + 0.01 * s as f64)).collect();
    // The seed text's own run: lowest at step 200, then up.
    let risen = curve(&[4.5, 3.86, 3.87, 3.89, 3.92]);
    assert_eq!(
        overfitting(&risen, &falling, 3),
        Some(Overfitting {
            best_step: 200,
            best: 3.86,
            last_step: 500,
            last: 3.92,
            since: 3
        })
    );
    // The same validations with a training loss that rises too: divergence.
    assert_eq!(overfitting(&risen, &rising, 3), None);
    // Two validations past the lowest are not yet "a while".
    assert_eq!(overfitting(&curve(&[4.5, 3.86, 3.90, 3.95]), &falling, 3), None);
    // Levelled off, within 1 % of the best.
    assert_eq!(
        overfitting(&curve(&[4.5, 3.86, 3.87, 3.88, 3.89]), &falling, 3),
        None
    );
    // Still falling.
    assert_eq!(overfitting(&curve(&[4.5, 4.0, 3.9, 3.8, 3.7]), &falling, 3), None);
    // A NaN validation is skipped as a best; no validation, no warning.
    let nan_first = curve(&[f64::NAN, 3.0, 3.2, 3.3, 3.4]);
    assert_eq!(
        overfitting(&nan_first, &falling, 3).map(|o| o.best_step),
        Some(200)
    );
    assert_eq!(overfitting(&[], &falling, 3), None);
}

/// With `keep_best`, training keeps the weights of its lowest validation loss,
/// and they put back into a fresh model give that loss again.
#[test]
fn keep_best_keeps_the_weights_of_the_lowest_validation() {
    let data = Dataset::from_text(&cyclic_text());
    let mut model = Bigram::new(data.vocab_size(), &mut StdRng::seed_from_u64(0));
    let mut cfg = TrainConfig::new(60, 8, 16, 0.1);
    cfg.progress = false;
    cfg.eval_every = 10;
    cfg.keep_best = true;
    let mut opt = AdamW::nanogpt(0.1);
    let history = train(&mut model, &mut opt, &data, &cfg).unwrap();
    let best = history.best.as_ref().expect("a snapshot");
    let lowest = history.val.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    assert_eq!(best.val, lowest);
    assert!(history.val.contains(&(best.step, best.val)));
    let mut fresh = Bigram::new(data.vocab_size(), &mut StdRng::seed_from_u64(7));
    best.restore(&mut fresh).unwrap();
    assert_eq!(evaluate(&fresh, &data, Split::Val, &cfg), best.val);
    // Without keep_best nothing is kept.
    cfg.keep_best = false;
    let history = train(&mut model, &mut opt, &data, &cfg).unwrap();
    assert!(history.best.is_none());
    // A model of another shape is refused by name.
    let mut other = Bigram::new(data.vocab_size() + 1, &mut StdRng::seed_from_u64(0));
    assert!(best.restore(&mut other).unwrap_err().contains("in the model"));
}

/// The plain progress line names the step, both losses, the speed and the
/// time left at the pace so far.
#[test]
fn the_plain_progress_line_says_step_losses_speed_and_time_left() {
    use shortmem::train::{History, duration, plain_line};
    let history = History {
        train: vec![(0, 2.0), (1, 1.5)],
        val: vec![(2, 1.75)],
        seconds: 4.0,
        tokens: 1000,
        ..History::default()
    };
    // 50 of 200 steps in 20 s: 150 more at 0.4 s each.
    assert_eq!(
        plain_line("transformer", 50, 200, &history, 20.0),
        "   transformer: step 50/200, loss 1.750, validation loss 1.750, 250 tokens/s, about 1 min 00 s left"
    );
    let early = History {
        val: vec![],
        ..history
    };
    assert!(plain_line("rnn", 1, 10, &early, 1.0).contains("validation loss not yet"));
    assert_eq!(duration(45.4), "45 s");
    assert_eq!(duration(200.0), "3 min 20 s");
    assert_eq!(duration(3900.0), "1 h 05 min");
}
