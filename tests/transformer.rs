//! The Transformer of §3.2, §4.2 and §5: every equation against plain loops,
//! the attention op against its unfused definition, gradients, the causal mask,
//! positional encoding, permutation equivariance, generation and the KV cache.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::autograd::gradcheck::GradCheck;
use shortmem::models::{Eq42, Eq42Config, KvCache, TransformerBlock, TransformerConfig, TransformerLM};
use shortmem::nn::sinusoidal;
use shortmem::ops::attention_cached;
use shortmem::sample::{Sampling, argmax};
use shortmem::{Graph, Module, Tensor, Var};

fn rand(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn tiny_config(causal: bool) -> TransformerConfig {
    TransformerConfig {
        vocab_size: 7,
        embed_dim: 8,
        num_heads: 2,
        ff_dim: 12,
        num_layers: 2,
        context: 16,
        causal,
    }
}

// ---------------------------------------------------------------- §4.2

fn eq42(seed: u64) -> Eq42<f64> {
    let cfg = Eq42Config {
        vocab_size: 5,
        d_model: 4,
        d_k: 3,
        d_ff: 6,
        context: 8,
    };
    let mut m = Eq42::<f64>::new(cfg, &mut StdRng::seed_from_u64(seed));
    // Non-zero biases, so that every term of the equations is exercised.
    for p in [&mut m.b_1, &mut m.b_2, &mut m.b_o] {
        let n = p.value.numel();
        p.value = rand(&[n], seed + n as u64);
    }
    m
}

/// Row-major [r×k]·[k×c] in plain loops.
fn mm(a: &[f64], b: &[f64], r: usize, k: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[i * c + j] = (0..k).map(|p| a[i * k + p] * b[p * c + j]).sum();
        }
    }
    out
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-12, "{what}[{i}]: got {g}, want {w}");
    }
}

#[test]
fn eq_4_2_each_equation_matches_plain_loops() {
    let m = eq42(1);
    let ids = [3usize, 0, 4, 4, 1];
    let (t, dm, dk, df, nv) = (5, 4, 3, 6, 5);
    let g = Graph::new();
    let tr = m.trace(&g, &ids, 1, t);
    let (e_mat, w_q, w_k, w_v) = (
        m.e.value.data(),
        m.w_q.value.data(),
        m.w_k.value.data(),
        m.w_v.value.data(),
    );
    // (1) e_t = E x_t with x_t one-hot: the sum over j of E[i][j]·[j == x_t]
    let mut e = vec![0.0; t * dm];
    for (pos, &x) in ids.iter().enumerate() {
        for i in 0..dm {
            e[pos * dm + i] = (0..nv)
                .map(|j| e_mat[i * nv + j] * if j == x { 1.0 } else { 0.0 })
                .sum();
        }
    }
    close(tr.e.value().data(), &e, "e");
    // (2) ẽ_t = e_t + p_t
    let p = m.p.all();
    let p = p.data();
    let et: Vec<f64> = (0..t * dm).map(|i| e[i] + p[i]).collect();
    close(tr.e_tilde.value().data(), &et, "ẽ");
    // (3) Q, K, V, then A = softmax(QKᵀ/√d_k + M) and C = AV
    let (q, k, v) = (
        mm(&et, w_q, t, dm, dk),
        mm(&et, w_k, t, dm, dk),
        mm(&et, w_v, t, dm, dk),
    );
    close(tr.q.value().data(), &q, "Q");
    close(tr.k.value().data(), &k, "K");
    close(tr.v.value().data(), &v, "V");
    let mut a = vec![0.0; t * t];
    for i in 0..t {
        let s: Vec<f64> = (0..=i)
            .map(|j| (0..dk).map(|c| q[i * dk + c] * k[j * dk + c]).sum::<f64>() / (dk as f64).sqrt())
            .collect();
        let mx = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|x| (x - mx).exp()).sum();
        for j in 0..=i {
            a[i * t + j] = (s[j] - mx).exp() / z; // j > i stays exactly 0
        }
    }
    close(tr.a.value().data(), &a, "A");
    let c = mm(&a, &v, t, t, dk);
    close(tr.c.value().data(), &c, "C");
    // (4) C̃ = ReLU(CW₁ + b₁)W₂ + b₂
    let mut hidden = mm(&c, m.w_1.value.data(), t, dk, df);
    for (i, x) in hidden.iter_mut().enumerate() {
        *x = (*x + m.b_1.value.data()[i % df]).max(0.0);
    }
    let mut ct = mm(&hidden, m.w_2.value.data(), t, df, dm);
    ct.iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x += m.b_2.value.data()[i % dm]);
    close(tr.c_tilde.value().data(), &ct, "C̃");
    // (5) y_t = softmax(c̃_t W_o + b_o)
    let mut o = mm(&ct, m.w_o.value.data(), t, dm, nv);
    o.iter_mut()
        .enumerate()
        .for_each(|(i, x)| *x += m.b_o.value.data()[i % nv]);
    close(tr.logits.value().data(), &o, "logits");
    let y = tr.logits.softmax().value();
    for row in y.data().chunks(nv) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

#[test]
fn eq_4_2_causal_mask_weights_are_exactly_zero_and_rows_sum_to_one() {
    let m = eq42(2);
    let g = Graph::new();
    let tr = m.trace(&g, &[1, 2, 3, 4, 0, 1], 1, 6);
    let a = tr.a.value();
    for i in 0..6 {
        let row = &a.data()[i * 6..(i + 1) * 6];
        assert!(
            row[i + 1..].iter().all(|&w| w == 0.0),
            "row {i}: future weights {:?}",
            &row[i + 1..]
        );
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    assert_eq!(a.data()[0], 1.0, "the first position can only attend to itself");
}

#[test]
fn eq_4_2_gradient_check_whole_model() {
    let mut m = eq42(3);
    let ids = [0usize, 1, 4, 2, 3, 3, 2, 1];
    let targets = [1usize, 4, 2, 3, 3, 2, 1, 0];
    let report = GradCheck::default()
        .check_module(&mut m, |m, g| {
            m.trace(g, &ids, 2, 4).logits.cross_entropy(&targets)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.len(), 10);
}

#[test]
fn eq_4_2_positional_encoding_values() {
    let p = sinusoidal::<f64>(50, 6);
    // p_0 = [sin 0, cos 0, …] = [0, 1, 0, 1, 0, 1]
    assert_eq!(p.data()[..6], [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    // position 7, pair i = 1: angle 7 / 10000^(2/6)
    let angle = 7.0 / 10000f64.powf(2.0 / 6.0);
    assert!((p.at(&[7, 2]) - angle.sin()).abs() < 1e-15);
    assert!((p.at(&[7, 3]) - angle.cos()).abs() < 1e-15);
    // pair 0 is sin/cos of the position itself
    assert!((p.at(&[49, 0]) - 49f64.sin()).abs() < 1e-15 && (p.at(&[49, 1]) - 49f64.cos()).abs() < 1e-15);
}

// ---------------------------------------------------------------- the attention op

/// The attention of §5 written with the unfused ops.
fn unfused<'g>(qkv: Var<'g, f64>, heads: usize, causal: bool) -> Var<'g, f64> {
    let d3 = qkv.shape().dims()[2];
    let dm = d3 / 3;
    let q = qkv.slice(2, 0, dm).split_heads(heads);
    let k = qkv.slice(2, dm, 2 * dm).split_heads(heads);
    let v = qkv.slice(2, 2 * dm, 3 * dm).split_heads(heads);
    let s = q.matmul_t(k).scale(1.0 / ((dm / heads) as f64).sqrt());
    let s = if causal { s.causal_mask(0) } else { s };
    s.softmax().matmul(v).merge_heads()
}

#[test]
fn sec_5_fused_attention_equals_its_definition_and_gradchecks() {
    // T = 70 spans three of the causal op's row blocks, the last one partial.
    for (t, causal) in [(5, true), (5, false), (70, true), (70, false)] {
        let qkv = rand(&[2, t, 3 * 6], 4);
        let g = Graph::new();
        let x = g.constant(qkv.clone());
        let fused = x.attention(3, causal).value();
        let reference = unfused(x, 3, causal).value();
        assert!(
            fused.max_abs_diff(&reference) < 1e-12,
            "T = {t}, causal = {causal}"
        );
        GradCheck::default()
            .check_inputs(&[qkv], move |_g, v| v[0].attention(3, causal))
            .unwrap_or_else(|e| panic!("T = {t}, causal = {causal}: {e}"));
    }
}

/// Feeds the rows of a random `[1, t, 3·heads·d]` projection to the cached
/// attention in the given blocks of positions, appending each block's keys and
/// values first, as a cache does; each block's output must equal those rows of
/// the causal attention's unfused definition (in f64).
fn check_cached_attention(t: usize, heads: usize, d: usize, seed: u64, blocks: &[std::ops::Range<usize>]) {
    let width = heads * d;
    let qkv = rand(&[1, t, 3 * width], seed);
    let g = Graph::new();
    let reference = unfused(g.constant(qkv.clone()), heads, true).value();
    let rows_of = |r: &std::ops::Range<usize>| &qkv.data()[r.start * 3 * width..r.end * 3 * width];
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    for block in blocks {
        for row in rows_of(block).chunks(3 * width) {
            keys.extend_from_slice(&row[width..2 * width]);
            values.extend_from_slice(&row[2 * width..]);
        }
        let got = attention_cached(rows_of(block), width, &keys, &values, heads);
        let want = &reference.data()[block.start * width..block.end * width];
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < 1e-12, "positions {block:?}: off by {worst:.1e}");
    }
}

/// The single-query path of cached generation: position `pos` attending to the
/// keys and values of positions 0..=pos, laid out as a cache holds them, gives
/// row `pos` of the causal attention's definition.
#[test]
fn sec_5_cached_attention_equals_its_definition_at_every_position() {
    let every: Vec<_> = (0..70).map(|pos| pos..pos + 1).collect();
    check_cached_attention(70, 3, 2, 5, &every);
}

#[test]
fn sec_5_attention_weights_rows_sum_to_one_masked_exactly_zero() {
    for t in [6, 45] {
        let g = Graph::new();
        let (_, w) = g
            .constant(rand(&[2, t, 3 * 8], 5))
            .attention_with_weights(4, true);
        assert_eq!(w.dims(), &[2, 4, t, t]);
        for block in w.data().chunks(t * t) {
            for (i, row) in block.chunks(t).enumerate() {
                assert!(row[i + 1..].iter().all(|&x| x == 0.0), "T = {t}, row {i}");
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
    }
}

// ---------------------------------------------------------------- §5 modules

#[test]
fn sec_5_parameter_names_and_shapes_match_the_pytorch_state_dict() {
    let lm = TransformerLM::<f32>::new(tiny_config(true), &mut StdRng::seed_from_u64(6));
    let got: Vec<(String, Vec<usize>)> = lm
        .params()
        .iter()
        .map(|p| (p.name.clone(), p.value.dims().to_vec()))
        .collect();
    let (d, f, v) = (8, 12, 7);
    let mut want = vec![("embed.weight".to_string(), vec![v, d])];
    for i in 0..2 {
        let b = |s: &str| format!("blocks.{i}.{s}");
        want.extend([
            (b("attention.in_proj_weight"), vec![3 * d, d]),
            (b("attention.in_proj_bias"), vec![3 * d]),
            (b("attention.out_proj.weight"), vec![d, d]),
            (b("attention.out_proj.bias"), vec![d]),
            (b("ff.0.weight"), vec![f, d]),
            (b("ff.0.bias"), vec![f]),
            (b("ff.2.weight"), vec![d, f]),
            (b("ff.2.bias"), vec![d]),
            (b("norm1.weight"), vec![d]),
            (b("norm1.bias"), vec![d]),
            (b("norm2.weight"), vec![d]),
            (b("norm2.bias"), vec![d]),
        ]);
    }
    want.extend([
        ("out.weight".to_string(), vec![v, d]),
        ("out.bias".to_string(), vec![v]),
    ]);
    assert_eq!(got, want);
}

#[test]
fn sec_5_block_gradient_check() {
    let mut block = TransformerBlock::<f64>::new("blocks.0", 6, 2, 10, &mut StdRng::seed_from_u64(7));
    let x = rand(&[2, 4, 6], 8);
    let report = GradCheck::default()
        .check_module(&mut block, |b, g| b.forward(g, g.constant(x.clone()), true))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.len(), 12);
}

#[test]
fn sec_5_two_layer_lm_gradient_check() {
    let mut lm = TransformerLM::<f64>::new(tiny_config(true), &mut StdRng::seed_from_u64(9));
    let ids = [1usize, 5, 2, 6, 0, 3, 3, 4, 1, 2];
    let targets = [5usize, 2, 6, 0, 3, 3, 4, 1, 2, 0];
    let gc = GradCheck {
        max_per_tensor: 40,
        ..GradCheck::default()
    };
    let report = gc
        .check_module(&mut lm, |m, g| m.forward(g, &ids, 2, 5).cross_entropy(&targets))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.len(), 2 + 2 * 12 + 1);
}

#[test]
fn sec_5_block_without_mask_and_position_is_permutation_equivariant() {
    let block = TransformerBlock::<f64>::new("b", 6, 3, 8, &mut StdRng::seed_from_u64(10));
    let x = rand(&[1, 5, 6], 11);
    let perm = [3usize, 0, 4, 1, 2];
    let permuted = Tensor::from_fn([1, 5, 6], |ix| x.at(&[0, perm[ix[1]], ix[2]]));
    let g = Graph::new();
    let y = block.forward(&g, g.constant(x.clone()), false).value();
    let yp = block.forward(&g, g.constant(permuted), false).value();
    for t in 0..5 {
        for c in 0..6 {
            assert!((yp.at(&[0, t, c]) - y.at(&[0, perm[t], c])).abs() < 1e-12);
        }
    }
    // With the causal mask it is not: the first position then sees only itself.
    let yc = block.forward(&g, g.constant(x), true).value();
    assert!(yc.max_abs_diff(&y) > 1e-3);
}

#[test]
fn sec_5_causal_model_ignores_the_future() {
    let lm = TransformerLM::<f64>::new(tiny_config(true), &mut StdRng::seed_from_u64(12));
    let g = Graph::new();
    let a = lm.forward(&g, &[1, 2, 3, 4, 5], 1, 5).value();
    let b = lm.forward(&g, &[1, 2, 3, 0, 6], 1, 5).value();
    // Positions 0..=2 saw identical prefixes: identical logits.
    assert!(
        a.data()[..3 * 7]
            .iter()
            .zip(&b.data()[..3 * 7])
            .all(|(x, y)| x == y)
    );
    assert!(
        a.data()[3 * 7..]
            .iter()
            .zip(&b.data()[3 * 7..])
            .any(|(x, y)| x != y)
    );
}

// ---------------------------------------------------------------- §3.2 generation and the cache

#[test]
fn sec_5_kv_cache_gives_the_same_logits_as_recomputation() {
    let mut cfg = tiny_config(true);
    cfg.context = 24;
    let lm = TransformerLM::<f32>::new(cfg, &mut StdRng::seed_from_u64(13));
    let mut rng = StdRng::seed_from_u64(14);
    let tokens: Vec<usize> = (0..24).map(|_| rng.random_range(0..7)).collect();
    let mut cache = KvCache::new(&lm.config);
    for t in 0..24 {
        let cached = lm.step_cached(&mut cache, tokens[t]);
        let full = lm.next_logits(&tokens[..=t]);
        let diff = cached
            .iter()
            .zip(&full)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-5,
            "position {t}: cache and recomputation differ by {diff}"
        );
    }
    assert_eq!(cache.len(), 24);
}

/// Many query rows at once (a prefill after some positions are cached) give
/// the rows of the causal attention's definition at those positions.
#[test]
fn sec_5_cached_attention_of_several_rows_equals_its_definition() {
    // 0..13 as one block, then 13..14 alone, then 14..40 as one block.
    check_cached_attention(40, 2, 3, 6, &[0..13, 13..14, 14..40]);
}

/// The prefill feeds a prompt in one pass: the same logits as recomputation and
/// as feeding it one token at a time, and a cache that serves the next token as
/// well; it refuses to overfill.
#[test]
fn sec_5_prefill_equals_token_by_token_and_refuses_past_the_context() {
    let mut cfg = tiny_config(true);
    cfg.context = 25;
    let lm = TransformerLM::<f32>::new(cfg, &mut StdRng::seed_from_u64(16));
    let mut rng = StdRng::seed_from_u64(17);
    let tokens: Vec<usize> = (0..24).map(|_| rng.random_range(0..7)).collect();
    let worst = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    // Prompt of 10 at once, then one token, then the remaining 13 at once.
    let mut cache = KvCache::new(&lm.config);
    let mut logits = Vec::new();
    for part in [0..10, 10..11, 11..24] {
        logits = lm.prefill(&mut cache, &tokens[part.clone()]);
        let full = lm.next_logits(&tokens[..part.end]);
        assert!(
            worst(&logits, &full) < 1e-5,
            "after {part:?}: prefill and recomputation differ by {}",
            worst(&logits, &full)
        );
    }
    assert_eq!(cache.len(), 24);
    let mut one_by_one = KvCache::new(&lm.config);
    let mut stepped = Vec::new();
    for &t in &tokens {
        stepped = lm.step_cached(&mut one_by_one, t);
    }
    assert!(worst(&logits, &stepped) < 1e-5);
    // The caches hold the same keys and values: one more token gives the same
    // logits from both, and from recomputation.
    let (next, mut all) = (5, tokens.clone());
    all.push(next);
    let (a, b) = (
        lm.step_cached(&mut cache, next),
        lm.step_cached(&mut one_by_one, next),
    );
    let full = lm.next_logits(&all);
    assert!(worst(&a, &b) < 1e-5 && worst(&a, &full) < 1e-5);
    let overfull = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lm.prefill(&mut cache, &[1])));
    let message = overfull.unwrap_err();
    let message = message.downcast_ref::<String>().expect("a formatted message");
    assert!(
        message.contains("1 token(s) after 25 cached do not fit the context of 25"),
        "{message}"
    );
}

#[test]
fn step_3_2_greedy_generation_matches_the_batched_forward_with_and_without_cache() {
    let lm = TransformerLM::<f32>::new(tiny_config(true), &mut StdRng::seed_from_u64(15));
    let prompt = [3usize, 1, 4];
    let with = lm
        .generate(&prompt, 10, Sampling::Greedy, &mut StdRng::seed_from_u64(0), true)
        .unwrap();
    let without = lm
        .generate(
            &prompt,
            10,
            Sampling::Greedy,
            &mut StdRng::seed_from_u64(0),
            false,
        )
        .unwrap();
    assert_eq!(with, without);
    let all: Vec<usize> = prompt.iter().chain(&with).copied().collect();
    let g = Graph::new();
    let logits = lm.forward(&g, &all, 1, all.len()).value();
    for (i, &next) in with.iter().enumerate() {
        let pos = prompt.len() - 1 + i;
        assert_eq!(
            argmax(&logits.data()[pos * 7..(pos + 1) * 7]),
            next,
            "position {pos}"
        );
    }
}

#[test]
fn generation_past_the_context_keeps_going() {
    let lm = TransformerLM::<f32>::new(tiny_config(true), &mut StdRng::seed_from_u64(16));
    let out = lm
        .generate(
            &[1, 2],
            40,
            Sampling::TopK {
                k: 3,
                temperature: 1.0,
            },
            &mut StdRng::seed_from_u64(1),
            true,
        )
        .unwrap();
    assert_eq!(out.len(), 40);
    assert!(out.iter().all(|&t| t < 7));
}

// ---------------------------------------------------------------- §3.2 traced in plain loops

/// y = x Wᵀ + b for a PyTorch-layout weight `[out, in]`, in plain loops.
fn linear_row(x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    let n_in = x.len();
    (0..b.len())
        .map(|o| b[o] + (0..n_in).map(|i| w[o * n_in + i] * x[i]).sum::<f64>())
        .collect()
}

/// Layer norm of one row with the biased variance and eps = 1e-5, as PyTorch.
fn layer_norm_row(x: &[f64], gamma: &[f64], beta: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let inv = 1.0 / (var + 1e-5).sqrt();
    (0..x.len())
        .map(|i| (x[i] - mean) * inv * gamma[i] + beta[i])
        .collect()
}

/// The keys and the values of every position seen so far, in one block.
type KeysAndValues = (Vec<Vec<f64>>, Vec<Vec<f64>>);

/// §3.2's five steps for the newest token only, one position at a time, with
/// every earlier position's keys and values kept in `memory` (one list per
/// block). No engine op is used: only the parameters' numbers.
fn five_steps_for_one_token(
    lm: &TransformerLM<f64>,
    memory: &mut [KeysAndValues],
    token: usize,
    t: usize,
) -> Vec<f64> {
    let d = lm.config.embed_dim;
    let heads = lm.config.num_heads;
    let dh = d / heads;
    // Step 1: the token's embedding row e_t = E x_t.
    let e = &lm.embed.weight.value.data()[token * d..(token + 1) * d];
    // Step 2: add the position, ẽ_t = e_t + p_t, with p_t written out from its formula.
    let mut x: Vec<f64> = (0..d)
        .map(|i| {
            let angle = t as f64 / 10000f64.powf((2 * (i / 2)) as f64 / d as f64);
            e[i] + if i % 2 == 0 { angle.sin() } else { angle.cos() }
        })
        .collect();
    // Step 3: each block. The query of position t looks at keys 0..=t only:
    // this loop never sees a later position, which is what the mask is for.
    for (block, (keys, values)) in lm.blocks.iter().zip(memory.iter_mut()) {
        let at = &block.attention;
        let qkv = linear_row(&x, at.in_proj_weight.value.data(), at.in_proj_bias.value.data());
        let (q, kv) = qkv.split_at(d);
        keys.push(kv[..d].to_vec());
        values.push(kv[d..].to_vec());
        let mut concat = vec![0.0; d];
        for h in 0..heads {
            let span = h * dh..(h + 1) * dh;
            let scores: Vec<f64> = keys
                .iter()
                .map(|k| span.clone().map(|i| q[i] * k[i]).sum::<f64>() / (dh as f64).sqrt())
                .collect();
            let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = scores.iter().map(|s| (s - top).exp()).sum();
            for (s, v) in scores.iter().zip(values.iter()) {
                let a = (s - top).exp() / z;
                for i in span.clone() {
                    concat[i] += a * v[i];
                }
            }
        }
        let out_b = at.out_proj.bias.as_ref().expect("out_proj has a bias");
        let attended = linear_row(&concat, at.out_proj.weight.value.data(), out_b.value.data());
        let res1: Vec<f64> = attended.iter().zip(&x).map(|(a, b)| a + b).collect();
        let c = layer_norm_row(
            &res1,
            block.norm1.weight.value.data(),
            block.norm1.bias.value.data(),
        );
        let l1 = &block.ff.l1;
        let l2 = &block.ff.l2;
        let hidden: Vec<f64> = linear_row(
            &c,
            l1.weight.value.data(),
            l1.bias.as_ref().expect("bias").value.data(),
        )
        .into_iter()
        .map(|v| v.max(0.0))
        .collect();
        let fed = linear_row(
            &hidden,
            l2.weight.value.data(),
            l2.bias.as_ref().expect("bias").value.data(),
        );
        let res2: Vec<f64> = fed.iter().zip(&c).map(|(a, b)| a + b).collect();
        x = layer_norm_row(
            &res2,
            block.norm2.weight.value.data(),
            block.norm2.bias.value.data(),
        );
    }
    // Step 4: the logits of y_t (softmax of them is the next-token distribution).
    linear_row(
        &x,
        lm.out.weight.value.data(),
        lm.out.bias.as_ref().expect("out has a bias").value.data(),
    )
}

#[test]
fn step_3_2_five_steps_traced_equal_the_batched_forward() {
    let lm = TransformerLM::<f64>::new(tiny_config(true), &mut StdRng::seed_from_u64(17));
    let v = lm.config.vocab_size;
    let tokens = [3usize, 1, 4, 1, 5, 0, 2, 6, 5, 3];
    let g = Graph::new();
    let batched = lm.forward(&g, &tokens, 1, tokens.len()).value();
    let mut memory = vec![(Vec::new(), Vec::new()); lm.config.num_layers];
    for (t, &token) in tokens.iter().enumerate() {
        let traced = five_steps_for_one_token(&lm, &mut memory, token, t);
        let want = &batched.data()[t * v..(t + 1) * v];
        for (i, (a, b)) in traced.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() < 1e-10,
                "position {t}, logit {i}: traced {a}, batched {b}"
            );
        }
        // Step 5: the greedy choice agrees as well.
        let pick = |l: &[f64]| argmax(&l.iter().map(|&x| x as f32).collect::<Vec<_>>());
        assert_eq!(pick(&traced), pick(want), "position {t}");
    }
}

#[test]
fn generation_with_a_context_of_one_keeps_going() {
    let mut cfg = tiny_config(true);
    cfg.context = 1;
    let lm = TransformerLM::<f32>::new(cfg, &mut StdRng::seed_from_u64(18));
    let with = lm
        .generate(&[1, 2], 5, Sampling::Greedy, &mut StdRng::seed_from_u64(0), true)
        .unwrap();
    let without = lm
        .generate(&[1, 2], 5, Sampling::Greedy, &mut StdRng::seed_from_u64(0), false)
        .unwrap();
    // With one position of context, each token depends on the one before only:
    // the cached and recomputed paths must agree.
    assert_eq!(with, without);
    assert_eq!(with.len(), 5);
}

/// Generation over a model whose numbers went bad stops with an error that
/// says so, instead of choosing token 0 among NaNs; an empty prompt is an
/// error too.
#[test]
fn generation_refuses_nan_logits_and_an_empty_prompt() {
    use shortmem::sample::GenerateError;
    let mut lm = TransformerLM::<f32>::new(tiny_config(true), &mut StdRng::seed_from_u64(19));
    let greedy = Sampling::Greedy;
    let rng = &mut StdRng::seed_from_u64(0);
    assert_eq!(
        lm.generate(&[], 3, greedy, rng, true),
        Err(GenerateError::EmptyPrompt)
    );
    lm.out.bias.as_mut().unwrap().value.data_mut()[2] = f32::NAN;
    for cache in [true, false] {
        let err = lm.generate(&[1, 2], 3, greedy, rng, cache).unwrap_err();
        assert!(
            matches!(err, GenerateError::NotFinite { at: 0, value } if value.is_nan()),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("generation stopped at new token 0"),
            "{err}"
        );
    }
    assert_eq!(greedy.choose(&[0.5, f32::INFINITY], rng), None);
}

/// A 2-block attention model learns multi-query associative recall: on
/// sequences of 32 tokens with 4 pairs, it names at least 95 % of the values
/// asked on test sequences it never saw.
#[test]
fn two_block_attention_learns_mqar() {
    use shortmem::data::Mqar;
    use shortmem::optim::AdamW;
    use shortmem::tasks::{mqar_accuracy, train_mqar};
    use shortmem::train::TrainConfig;
    let task = Mqar::new(32, 4, 32);
    let splits = task.splits(20_000, 128, 1000, 1);
    let config = TransformerConfig {
        vocab_size: task.vocab(),
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 128,
        num_layers: 2,
        context: 32,
        causal: true,
    };
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(0));
    let mut cfg = TrainConfig::new(800, 32, 32, 3e-3);
    cfg.progress = false;
    cfg.eval_every = 800;
    train_mqar(
        &mut model,
        &mut AdamW::nanogpt(3e-3),
        &task,
        (&splits.train, &splits.val),
        &cfg,
    )
    .unwrap();
    let acc = mqar_accuracy(&model, &task, &splits.test);
    assert!(acc >= 0.95, "test accuracy {acc}");
}

// ---------------------------------------------------------------- attention only

/// One layer of the attention-only model in plain loops: x + out_proj(heads),
/// each head softmax(q kᵀ/√d, causal)·v from the packed in_proj.
fn attention_only_layer(
    att: &shortmem::models::transformer::MultiheadAttention<f64>,
    x: &[f64],
    t: usize,
    dm: usize,
) -> Vec<f64> {
    let (w, b) = (att.in_proj_weight.value.data(), att.in_proj_bias.value.data());
    let heads = att.num_heads;
    let d = dm / heads;
    // qkv[i][j] = Σ_k x[i][k] w[j][k] + b[j]
    let qkv: Vec<f64> = (0..t * 3 * dm)
        .map(|n| {
            let (i, j) = (n / (3 * dm), n % (3 * dm));
            b[j] + (0..dm).map(|k| x[i * dm + k] * w[j * dm + k]).sum::<f64>()
        })
        .collect();
    let mut concat = vec![0.0; t * dm];
    for h in 0..heads {
        for i in 0..t {
            let q = |k: usize| qkv[i * 3 * dm + h * d + k];
            let scores: Vec<f64> = (0..=i)
                .map(|j| {
                    (0..d)
                        .map(|k| q(k) * qkv[j * 3 * dm + dm + h * d + k])
                        .sum::<f64>()
                        / (d as f64).sqrt()
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = scores.iter().map(|s| (s - max).exp()).sum();
            for (j, s) in scores.iter().enumerate() {
                let a = (s - max).exp() / z;
                for k in 0..d {
                    concat[i * dm + h * d + k] += a * qkv[j * 3 * dm + 2 * dm + h * d + k];
                }
            }
        }
    }
    let (wo, bo) = (
        att.out_proj.weight.value.data(),
        att.out_proj.bias.as_ref().unwrap().value.data(),
    );
    (0..t * dm)
        .map(|n| {
            let (i, j) = (n / dm, n % dm);
            x[n] + bo[j] + (0..dm).map(|k| concat[i * dm + k] * wo[j * dm + k]).sum::<f64>()
        })
        .collect()
}

#[test]
fn attention_only_model_is_residual_attention_and_nothing_else() {
    use shortmem::models::AttentionOnly;
    let (v, dm, t) = (7, 8, 5);
    let m = AttentionOnly::<f64>::new(v, dm, 2, 2, 16, &mut StdRng::seed_from_u64(4));
    let ids = [3usize, 0, 6, 6, 2];
    let g = Graph::<f64>::inference();
    let (logits, maps) = m.forward_with_maps(&g, &ids, 1, t);
    // By hand: embedding row + p_t, each layer x + attention(x), output layer.
    let pe = sinusoidal::<f64>(16, dm);
    let e = m.embed.weight.value.data();
    let mut x: Vec<f64> = (0..t * dm)
        .map(|n| e[ids[n / dm] * dm + n % dm] + pe.data()[n])
        .collect();
    for layer in &m.layers {
        x = attention_only_layer(layer, &x, t, dm);
    }
    let (wo, bo) = (
        m.out.weight.value.data(),
        m.out.bias.as_ref().unwrap().value.data(),
    );
    let want: Vec<f64> = (0..t * v)
        .map(|n| {
            let (i, j) = (n / v, n % v);
            bo[j] + (0..dm).map(|k| x[i * dm + k] * wo[j * dm + k]).sum::<f64>()
        })
        .collect();
    close(logits.value().data(), &want, "attention-only logits");
    assert_eq!(maps.len(), 2);
    assert_eq!(maps[0].shape().dims(), &[1, 2, t, t]);
}

#[test]
fn attention_only_model_gradient_check() {
    use shortmem::models::AttentionOnly;
    let mut m = AttentionOnly::<f64>::new(6, 4, 2, 2, 8, &mut StdRng::seed_from_u64(5));
    let ids = [0usize, 1, 4, 2, 3, 5, 2, 1];
    let targets = [1usize, 4, 2, 3, 5, 2, 1, 0];
    GradCheck::default()
        .check_module(&mut m, |m, g| {
            m.forward_with_maps(g, &ids, 2, 4).0.cross_entropy(&targets)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Induction needs two layers (Olsson et al. 2022): trained alike on blocks that
/// repeat at a varying offset, a 2-layer attention-only model predicts the
/// copy (well under ln 32 = 3.47 nats) and a 1-layer one stays at least a nat
/// behind (it can learn that the next token is one of the block's, about
/// ln(L − 1) ≈ 2 nats here, but not which).
#[test]
fn two_attention_layers_copy_the_repeated_block_and_one_cannot() {
    use shortmem::data::Repeats;
    use shortmem::models::AttentionOnly;
    use shortmem::optim::AdamW;
    use shortmem::tasks::{repeat_loss, train_repeats};
    use shortmem::train::TrainConfig;
    // Blocks of 4-12 tokens out of 32, their copy, in windows of 32.
    let task = Repeats::new(32, 32, 4, 12).unwrap();
    let test = task.sample(500, 77);
    let mut loss = Vec::new();
    for layers in [1, 2] {
        let mut m = AttentionOnly::<f32>::new(32, 32, 2, layers, 32, &mut StdRng::seed_from_u64(1));
        let mut cfg = TrainConfig::new(3000, 32, 32, 3e-3);
        cfg.seed = 1;
        cfg.eval_every = 3000;
        cfg.progress = false;
        train_repeats(&mut m, &mut AdamW::nanogpt(3e-3), &task, &cfg, 99).unwrap();
        loss.push(repeat_loss(&m, &test));
    }
    // ln 32 = 3.47 nats for a guess; the block's own tokens stay near it.
    assert!(loss[1].repeat < 1.2, "2 layers: {:?}", loss[1]);
    assert!(loss[1].fresh > 3.0, "2 layers, fresh tokens: {:?}", loss[1]);
    assert!(loss[0].repeat > loss[1].repeat + 1.0, "1 layer: {:?}", loss[0]);
}
