//! The RNN of §3.1 and §4.1: each equation against hand computations, its
//! gradient through time, the generation loop, and that it remembers.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::autograd::gradcheck::GradCheck;
use shortmem::data::RecallTask;
use shortmem::models::{Activation, Gru, Rnn};
use shortmem::optim::AdamW;
use shortmem::sample::{Sampling, argmax};
use shortmem::tasks::{Curriculum, TEST_SEED, recall_accuracy, train_recall, train_recall_curriculum};
use shortmem::train::TrainConfig;
use shortmem::{Graph, Module, Tensor};

const U: [[f64; 3]; 2] = [[0.5, -0.3, 0.8], [0.1, 0.7, -0.6]];
const W: [[f64; 2]; 2] = [[0.4, -0.2], [0.3, 0.9]];
const B: [f64; 2] = [0.05, -0.1];
const V: [[f64; 2]; 3] = [[1.0, -0.5], [0.2, 0.6], [-0.7, 0.3]];
const C: [f64; 3] = [0.1, 0.0, -0.2];

/// An f64 RNN holding the weights above.
fn fixed_rnn(f: Activation) -> Rnn<f64> {
    let mut rnn = Rnn::<f64>::new(3, 2, f, &mut StdRng::seed_from_u64(0));
    rnn.u.value = Tensor::from_vec([2, 3], U.concat());
    rnn.w.value = Tensor::from_vec([2, 2], W.concat());
    rnn.b.value = Tensor::from_vec([2], B.to_vec());
    rnn.v.value = Tensor::from_vec([3, 2], V.concat());
    rnn.c.value = Tensor::from_vec([3], C.to_vec());
    rnn
}

/// Eq. 4.1 by hand: h_t = f(U x_t + W h_{t−1} + b), y_t = softmax(V h_t + c),
/// with x_t one-hot, written as plain loops.
fn by_hand(tokens: &[usize], f: fn(f64) -> f64) -> (Vec<[f64; 2]>, Vec<[f64; 3]>) {
    let mut h = [0.0; 2];
    let (mut hs, mut ys) = (vec![], vec![]);
    for &tok in tokens {
        let x: Vec<f64> = (0..3).map(|j| if j == tok { 1.0 } else { 0.0 }).collect();
        let mut next = [0.0; 2];
        for i in 0..2 {
            let mut s = B[i];
            for j in 0..3 {
                s += U[i][j] * x[j];
            }
            for j in 0..2 {
                s += W[i][j] * h[j];
            }
            next[i] = f(s);
        }
        h = next;
        let mut o = [0.0; 3];
        for k in 0..3 {
            o[k] = C[k] + V[k][0] * h[0] + V[k][1] * h[1];
        }
        let z: f64 = o.iter().map(|v| v.exp()).sum();
        hs.push(h);
        ys.push([o[0].exp() / z, o[1].exp() / z, o[2].exp() / z]);
    }
    (hs, ys)
}

fn engine(tokens: &[usize], f: Activation) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let rnn = fixed_rnn(f);
    let g = Graph::new();
    let out = rnn.forward(&g, tokens, 1, tokens.len(), None);
    let hs = out.hidden.iter().map(|h| h.value().data().to_vec()).collect();
    let probs = out.logits.softmax().value();
    let ys = probs.data().chunks(3).map(|r| r.to_vec()).collect();
    (hs, ys)
}

#[test]
fn eq_4_1_h1_h2_y1_y2_tanh_match_the_hand_computation() {
    let (hs, ys) = engine(&[2, 0], Activation::Tanh);
    let (want_h, want_y) = by_hand(&[2, 0], f64::tanh);
    // The first step written out: U x_1 + b = [0.8 + 0.05, −0.6 − 0.1].
    assert!((want_h[0][0] - 0.85f64.tanh()).abs() < 1e-15 && (want_h[0][1] - (-0.7f64).tanh()).abs() < 1e-15);
    assert!(
        (hs[0][0] - 0.691_069_470).abs() < 1e-9,
        "h_1[0] = tanh(0.85) = 0.691069470, got {}",
        hs[0][0]
    );
    for t in 0..2 {
        for i in 0..2 {
            assert!((hs[t][i] - want_h[t][i]).abs() < 1e-12, "h_{}[{i}]", t + 1);
        }
        for k in 0..3 {
            assert!((ys[t][k] - want_y[t][k]).abs() < 1e-12, "y_{}[{k}]", t + 1);
        }
    }
}

#[test]
fn eq_4_1_h1_h2_y1_y2_relu_match_the_hand_computation() {
    let (hs, ys) = engine(&[2, 0], Activation::Relu);
    let (want_h, want_y) = by_hand(&[2, 0], |v| v.max(0.0));
    assert!(
        (hs[0][0] - 0.85).abs() < 1e-15 && hs[0][1] == 0.0,
        "ReLU([0.85, −0.7]) = {:?}",
        hs[0]
    );
    for t in 0..2 {
        for i in 0..2 {
            assert!((hs[t][i] - want_h[t][i]).abs() < 1e-12);
        }
        for k in 0..3 {
            assert!((ys[t][k] - want_y[t][k]).abs() < 1e-12);
        }
    }
}

#[test]
fn eq_4_1_y_t_is_a_probability_distribution() {
    for f in [Activation::Tanh, Activation::Relu] {
        let rnn = Rnn::<f32>::new(11, 16, f, &mut StdRng::seed_from_u64(1));
        let g = Graph::new();
        let ids: Vec<usize> = (0..40).map(|i| (i * 7) % 11).collect();
        let y = rnn.forward(&g, &ids, 4, 10, None).logits.softmax().value();
        assert_eq!(y.dims(), &[4, 10, 11]);
        for row in y.data().chunks(11) {
            assert!(row.iter().all(|&p| (0.0..=1.0).contains(&p)));
            assert!(
                (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                "{f}: a row sums to {}",
                row.iter().sum::<f32>()
            );
        }
    }
}

#[test]
fn eq_4_1_u_x_t_as_a_column_lookup_equals_the_one_hot_product() {
    let rnn = Rnn::<f64>::new(7, 5, Activation::Tanh, &mut StdRng::seed_from_u64(2));
    let ids = [3usize, 0, 6, 3];
    let g = Graph::new();
    let lookup = g.param(&rnn.u).columns(&ids).value();
    // The same with explicit one-hot rows: X [4×7] times Uᵀ.
    let one_hot = Tensor::from_fn([4, 7], |i| if ids[i[0]] == i[1] { 1.0 } else { 0.0 });
    let product = g.constant(one_hot).matmul_t(g.param(&rnn.u)).value();
    assert_eq!(lookup.dims(), product.dims());
    assert!(
        lookup.max_abs_diff(&product) == 0.0,
        "a one-hot product only picks a column"
    );
}

#[test]
fn eq_4_1_gradient_check_through_5_time_steps() {
    for f in [Activation::Tanh, Activation::Relu] {
        let mut rnn = Rnn::<f64>::new(4, 3, f, &mut StdRng::seed_from_u64(3));
        let ids = [1usize, 3, 0, 2, 1, 2, 0, 0, 3, 1];
        let targets = [3usize, 0, 2, 1, 2, 0, 0, 3, 1, 1];
        // W appears in all 5 steps of both sequences: its gradient sums 10 uses.
        let report = GradCheck::default()
            .check_module(&mut rnn, |m, g| {
                m.forward(g, &ids, 2, 5, None).logits.cross_entropy(&targets)
            })
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(report.rows.len(), 5);
        assert_eq!(report.checked(), 4 * 3 + 3 * 3 + 3 + 4 * 3 + 4);
    }
}

#[test]
fn step_3_1_generation_loop_matches_the_batched_forward_for_greedy_decoding() {
    let rnn = Rnn::<f32>::new(9, 24, Activation::Tanh, &mut StdRng::seed_from_u64(4));
    let prompt = [1usize, 5, 2];
    let new = rnn
        .generate(&prompt, 12, Sampling::Greedy, &mut StdRng::seed_from_u64(0))
        .unwrap();
    assert_eq!(new.len(), 12);
    // Run the whole sequence at once: at every position from the prompt's last
    // token on, the argmax must be the token the loop chose next.
    let all: Vec<usize> = prompt.iter().chain(&new).copied().collect();
    let g = Graph::new();
    let logits = rnn.forward(&g, &all, 1, all.len(), None).logits.value();
    for (i, &next) in new.iter().enumerate() {
        let pos = prompt.len() - 1 + i;
        assert_eq!(
            argmax(&logits.data()[pos * 9..(pos + 1) * 9]),
            next,
            "position {pos}"
        );
    }
}

#[test]
fn rnn_remembers_a_symbol_across_3_distractors() {
    let task = RecallTask::default();
    let mut rnn = Rnn::<f32>::new(task.vocab(), 64, Activation::Tanh, &mut StdRng::seed_from_u64(5));
    let mut cfg = TrainConfig::new(600, 32, 5, 0.01);
    cfg.progress = false;
    cfg.eval_every = 600;
    let history = train_recall(&mut rnn, &mut AdamW::nanogpt(0.01), &task, 3..=3, &cfg).unwrap();
    let acc = recall_accuracy(&rnn, &task, 3, 1000, 99);
    assert!(
        acc >= 0.95,
        "recall accuracy {acc} after 600 steps (final loss {})",
        history.final_train(20)
    );
    assert!(rnn.num_params() > 0);
}

/// With the curriculum of chapter 3 (gaps 1–2 first, doubled once recall
/// passes 90 %), a small tanh RNN learns to recall the symbol across 2 and
/// across 32 distractors, on test sequences from a stream of their own.
#[test]
fn rnn_trained_with_a_curriculum_recalls_across_2_and_32_distractors() {
    let task = RecallTask::default();
    let mut rnn = Rnn::<f32>::new(task.vocab(), 32, Activation::Tanh, &mut StdRng::seed_from_u64(0));
    let mut cfg = TrainConfig::new(1500, 32, 34, 3e-3);
    cfg.progress = false;
    cfg.eval_every = 50;
    let curriculum = Curriculum {
        start: 2,
        end: 32,
        pass: 0.9,
        probe: 256,
    };
    let (_, reaches) =
        train_recall_curriculum(&mut rnn, &mut AdamW::nanogpt(3e-3), &task, curriculum, &cfg).unwrap();
    assert_eq!(
        reaches.first(),
        Some(&(50, 2)),
        "the curriculum starts at gaps of 1–2"
    );
    assert!(
        reaches
            .windows(2)
            .all(|w| w[1].1 == w[0].1 || w[1].1 == (2 * w[0].1).min(32)),
        "the reach only doubles: {reaches:?}"
    );
    for k in [2, 32] {
        let acc = recall_accuracy(&rnn, &task, k, 1000, TEST_SEED);
        assert!(acc >= 0.9, "recall {acc} at k = {k}; reach {reaches:?}");
    }
}

/// The GRU's equations in plain f64 loops, step by step, against the model:
/// r, z, n and h as `torch.nn.GRU` defines them, then V h + c.
#[test]
fn gru_equations_match_plain_loops() {
    let (vocab, h) = (5, 4);
    let gru = Gru::<f64>::new(vocab, h, &mut StdRng::seed_from_u64(8));
    let ids = [3usize, 0, 4, 4, 1, 2];
    let g = Graph::<f64>::new();
    let got = gru.forward(&g, &ids, 2, 3, None).logits.value();
    let p = |t: &shortmem::Param<f64>| t.value.data().to_vec();
    let (ur, uz, un) = (p(&gru.u_r), p(&gru.u_z), p(&gru.u_n));
    let (wr, wz, wn) = (p(&gru.w_r), p(&gru.w_z), p(&gru.w_n));
    let (br, bz, bn, bhn) = (p(&gru.b_r), p(&gru.b_z), p(&gru.b_n), p(&gru.b_hn));
    let (v, c) = (p(&gru.v), p(&gru.c));
    let sigmoid = |a: f64| 1.0 / (1.0 + (-a).exp());
    for b in 0..2 {
        let mut state = vec![0.0; h];
        for t in 0..3 {
            let x = ids[b * 3 + t];
            let wh = |w: &[f64], i: usize| (0..h).map(|j| w[i * h + j] * state[j]).sum::<f64>();
            let next: Vec<f64> = (0..h)
                .map(|i| {
                    let r = sigmoid(ur[i * vocab + x] + wh(&wr, i) + br[i]);
                    let z = sigmoid(uz[i * vocab + x] + wh(&wz, i) + bz[i]);
                    let n = (un[i * vocab + x] + bn[i] + r * (wh(&wn, i) + bhn[i])).tanh();
                    (1.0 - z) * n + z * state[i]
                })
                .collect();
            state = next;
            for o in 0..vocab {
                let want = c[o] + (0..h).map(|j| v[o * h + j] * state[j]).sum::<f64>();
                let at = (b * 3 + t) * vocab + o;
                assert!(
                    (got.data()[at] - want).abs() < 1e-12,
                    "b {b}, t {t}, o {o}: {} vs {want}",
                    got.data()[at]
                );
            }
        }
    }
}

/// Every GRU parameter's gradient against central differences in f64.
#[test]
fn gru_gradients_match_finite_differences() {
    let mut gru = Gru::<f64>::new(4, 3, &mut StdRng::seed_from_u64(9));
    let ids = [0usize, 3, 2, 1, 1, 0, 2, 3];
    let targets = [3usize, 2, 1, 0, 0, 2, 3, 1];
    let report = GradCheck::default()
        .check_module(&mut gru, |m, g| {
            m.forward(g, &ids, 2, 4, None).logits.cross_entropy(&targets)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.rows.len(), 12);
}
