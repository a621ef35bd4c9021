//! Every op's backward against central finite differences in f64, on random
//! shapes, with broadcasting and reuse; and proof that the checker can fail.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::autograd::gradcheck::GradCheck;
use shortmem::{Graph, Tensor, Var};

fn rand(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// Values bounded away from zero (for log, div and relu's kink), sign random.
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_fn(shape, |_| {
        let m = rng.random_range(0.3..2.0);
        if rng.random::<bool>() { m } else { -m }
    })
}

fn positive(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_fn(shape, |_| rng.random_range(0.2..3.0))
}

/// A random shape of the given rank with each dimension in 1..=5.
fn rand_shape(rank: usize, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xabc);
    (0..rank).map(|_| rng.random_range(1..=5)).collect()
}

fn check<F>(inputs: impl Into<Vec<Tensor<f64>>>, f: F)
where
    F: for<'g> Fn(&'g Graph<f64>, &[Var<'g, f64>]) -> Var<'g, f64>,
{
    match GradCheck::default().check_inputs(&inputs.into(), f) {
        Ok(report) => assert!(report.checked() > 0),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn checker_rejects_a_wrong_backward() {
    // y = x², with a backward that claims dy/dx = x (the true one is 2x).
    let x = rand(&[4], 1);
    let wrong = GradCheck::default().check_inputs(std::slice::from_ref(&x), |g, v| {
        let xv = v[0].value();
        let y = Tensor::from_vec(xv.shape(), xv.data().iter().map(|a| a * a).collect());
        let id = v[0].id();
        g.op(
            "custom",
            y,
            &[v[0]],
            Box::new(move |dy, grads| {
                let slot = grads.slot(id).unwrap();
                for ((s, d), x) in slot.iter_mut().zip(dy.data()).zip(xv.data()) {
                    *s += d * x; // deliberately missing the factor 2
                }
            }),
        )
    });
    let err = wrong.expect_err("a wrong backward must be rejected");
    assert!(
        err.to_string().contains("gradient check failed for input 0"),
        "{err}"
    );
    assert!((err.analytic * 2.0 - err.numeric).abs() < 1e-6, "{err}");

    // The same op with the correct factor passes.
    check([x], |g, v| {
        let xv = v[0].value();
        let y = Tensor::from_vec(xv.shape(), xv.data().iter().map(|a| a * a).collect());
        let id = v[0].id();
        g.op(
            "custom",
            y,
            &[v[0]],
            Box::new(move |dy, grads| {
                let slot = grads.slot(id).unwrap();
                for ((s, d), x) in slot.iter_mut().zip(dy.data()).zip(xv.data()) {
                    *s += 2.0 * d * x;
                }
            }),
        )
    });
}

#[test]
fn checker_catches_a_small_error() {
    // A backward off by one part in ten thousand is still caught in f64.
    let x = rand(&[3], 2);
    let r = GradCheck::default().check_inputs(&[x], |_g, v| v[0].map(|a| a.sin(), |a, _| a.cos() * 1.0001));
    assert!(r.is_err());
}

#[test]
fn elementwise_binary_same_shape() {
    for seed in 0..3 {
        let s = rand_shape(3, seed);
        let (a, b) = (rand(&s, seed), away_from_zero(&s, seed + 100));
        check([a.clone(), b.clone()], |_g, v| v[0] + v[1]);
        check([a.clone(), b.clone()], |_g, v| v[0] - v[1]);
        check([a.clone(), b.clone()], |_g, v| v[0] * v[1]);
        check([a, b], |_g, v| v[0] / v[1]);
    }
}

#[test]
fn elementwise_binary_broadcast_row_and_scalar() {
    for seed in 0..3 {
        let s = rand_shape(3, seed + 7);
        let row = [s[2]];
        let plane = [s[1], s[2]];
        let (a, r, p, c) = (
            rand(&s, seed),
            away_from_zero(&row, seed + 1),
            away_from_zero(&plane, seed + 2),
            away_from_zero(&[], seed + 3),
        );
        // the smaller operand on either side
        check([a.clone(), r.clone()], |_g, v| v[0] + v[1]);
        check([r.clone(), a.clone()], |_g, v| v[0] - v[1]);
        check([a.clone(), p.clone()], |_g, v| v[0] * v[1]);
        check([a.clone(), r.clone()], |_g, v| v[0] / v[1]);
        check([c.clone(), a.clone()], |_g, v| v[0] * v[1]);
        check([a.clone(), c.clone()], |_g, v| v[0] / v[1]);
        check([c, away_from_zero(&s, seed + 4)], |_g, v| v[0] / v[1]);
    }
}

#[test]
fn elementwise_unary() {
    for seed in 0..3 {
        let s = rand_shape(2, seed + 20);
        let x = away_from_zero(&s, seed);
        check([x.clone()], |_g, v| v[0].scale(-1.7));
        check([x.clone()], |_g, v| -v[0]);
        check([x.clone()], |_g, v| v[0].tanh());
        check([x.clone()], |_g, v| v[0].relu());
        check([x.clone()], |_g, v| v[0].sigmoid());
        check([x], |_g, v| v[0].exp());
        check([positive(&s, seed)], |_g, v| v[0].log());
    }
}

#[test]
fn reductions() {
    for seed in 0..3 {
        let x = rand(&rand_shape(3, seed + 30), seed);
        check([x.clone()], |_g, v| v[0].sum());
        check([x.clone()], |_g, v| v[0].mean());
        check([x.clone()], |_g, v| v[0].sum_last());
        check([x], |_g, v| v[0].mean_last());
    }
}

#[test]
fn matmul_all_forms() {
    for seed in 0..3 {
        let d = rand_shape(4, seed + 40); // b, m, k, n
        let (b, m, k, n) = (d[0], d[1], d[2], d[3]);
        // plain 2-D
        check([rand(&[m, k], seed), rand(&[k, n], seed + 1)], |_g, v| {
            v[0].matmul(v[1])
        });
        check([rand(&[m, k], seed), rand(&[n, k], seed + 1)], |_g, v| {
            v[0].matmul_t(v[1])
        });
        check([rand(&[k, m], seed), rand(&[k, n], seed + 1)], |_g, v| {
            v[0].t_matmul(v[1])
        });
        // batched, both operands batched
        check(
            &[rand(&[b, 2, m, k], seed), rand(&[b, 2, k, n], seed + 1)],
            |_g, v| v[0].matmul(v[1]),
        );
        check([rand(&[b, m, k], seed), rand(&[b, n, k], seed + 1)], |_g, v| {
            v[0].matmul_t(v[1])
        });
        check([rand(&[b, k, m], seed), rand(&[b, k, n], seed + 1)], |_g, v| {
            v[0].t_matmul(v[1])
        });
        // batched input times one shared weight (a Linear layer)
        check([rand(&[b, m, k], seed), rand(&[k, n], seed + 1)], |_g, v| {
            v[0].matmul(v[1])
        });
        check([rand(&[b, m, k], seed), rand(&[n, k], seed + 1)], |_g, v| {
            v[0].matmul_t(v[1])
        });
        check([rand(&[b, k, m], seed), rand(&[k, n], seed + 1)], |_g, v| {
            v[0].t_matmul(v[1])
        });
        // the same matrix on both sides: A·Aᵀ
        check([rand(&[m, k], seed)], |_g, v| v[0].matmul_t(v[0]));
    }
}

#[test]
fn linear_op_with_bias_and_relu() {
    for seed in 0..3 {
        let d = rand_shape(4, seed + 90); // b, m, k, n
        let (b, m, k, n) = (d[0], d[1], d[2], d[3]);
        let (x, w, bias) = (
            rand(&[b, m, k], seed),
            rand(&[n, k], seed + 1),
            rand(&[n], seed + 2),
        );
        check([x.clone(), w.clone(), bias.clone()], |_g, v| {
            v[0].linear(v[1], Some(v[2]), false)
        });
        // Random pre-activations land within the finite difference of the kink
        // with negligible probability.
        check([x.clone(), w.clone(), bias], |_g, v| {
            v[0].linear(v[1], Some(v[2]), true)
        });
        check([x, w], |_g, v| v[0].linear(v[1], None, true));
    }
}

#[test]
fn softmax_family() {
    for seed in 0..3 {
        let s = rand_shape(3, seed + 50);
        let x = rand(&s, seed);
        check([x.clone()], |_g, v| v[0].softmax());
        check([x.clone()], |_g, v| v[0].log_softmax());
        let classes = s[2];
        let rows = s[0] * s[1];
        let mut rng = StdRng::seed_from_u64(seed);
        let targets: Vec<usize> = (0..rows).map(|_| rng.random_range(0..classes)).collect();
        check([x], move |_g, v| v[0].cross_entropy(&targets));
    }
}

#[test]
fn causal_mask_then_softmax() {
    for (seed, offset) in [(0u64, 0usize), (1, 0), (2, 2)] {
        let t = 2 + seed as usize;
        let x = rand(&[2, 3, t, t + offset], seed);
        check([x], move |_g, v| v[0].causal_mask(offset).softmax());
    }
}

#[test]
fn layer_norm() {
    for seed in 0..3 {
        let s = rand_shape(3, seed + 60);
        let d = s[2] + 1; // at least 2 features
        let x = rand(&[s[0], s[1], d], seed);
        let w = rand(&[d], seed + 1);
        let b = rand(&[d], seed + 2);
        check([x, w, b], |_g, v| v[0].layer_norm(v[1], v[2], 1e-5));
    }
}

#[test]
fn embedding_with_repeated_ids() {
    let table = rand(&[5, 3], 1);
    // token 2 appears three times: its row's gradient is the sum of three.
    let ids = [2usize, 0, 2, 4, 2, 1];
    check([table], move |_g, v| v[0].embedding(&ids, [2, 3]));
}

#[test]
fn shape_ops() {
    for seed in 0..3 {
        let s = rand_shape(3, seed + 70);
        let x = rand(&s, seed);
        let (a, b, c) = (s[0], s[1], s[2]);
        check([x.clone()], move |_g, v| v[0].reshape([b, a * c]));
        check([x.clone()], |_g, v| v[0].transpose());
        check([x.clone()], move |_g, v| v[0].slice(1, b / 2, b));
        check([x.clone()], move |_g, v| v[0].slice(2, 0, c.div_ceil(2)));
        let h = 2;
        let y = rand(&[a, b, h * c], seed + 1);
        check([y.clone()], move |_g, v| v[0].split_heads(h));
        check([y.reshape([a, h, b, c])], |_g, v| v[0].merge_heads());
        let z = rand(&[a, b + 1, c], seed + 2);
        check([x, z], |_g, v| Var::concat(&[v[0], v[1], v[0]], 1));
    }
}

#[test]
fn dropout_in_training_mode() {
    let x = rand(&[4, 6], 3);
    // The same masks at every evaluation: the generator is seeded inside.
    let report = GradCheck::default()
        .check_inputs(&[x], |_g, v| {
            v[0].dropout(0.3, Some(&mut StdRng::seed_from_u64(42))).tanh()
        })
        .unwrap();
    assert_eq!(report.checked(), 24);
}

#[test]
fn reuse_accumulates_b_eq_a_plus_a_c_eq_b_times_b() {
    // c = (a + a)² = 4a², so dc/da = 8a exactly.
    let a = rand(&[5], 9);
    let g = Graph::<f64>::new();
    let av = g.input(a.clone());
    let b = av + av;
    let c = (b * b).sum();
    let grads = c.backward();
    for (got, x) in grads.wrt(av).unwrap().data().iter().zip(a.data()) {
        assert!((got - 8.0 * x).abs() < 1e-12, "{got} vs {}", 8.0 * x);
    }
    check([a], |_g, v| {
        let b = v[0] + v[0];
        b * b
    });
}

#[test]
fn reuse_across_time_steps_like_an_rnn() {
    // h_t = tanh(W h_{t-1} + x_t), five steps: W is used five times.
    let (h, steps) = (3, 5);
    let w = rand(&[h, h], 11).cast::<f64>();
    let xs = rand(&[steps, h], 12);
    let h0 = rand(&[1, h], 13);
    check([w, xs, h0], move |_g, v| {
        let mut state = v[2];
        for t in 0..steps {
            state = (state.matmul_t(v[0]) + v[1].slice(0, t, t + 1)).tanh();
        }
        state
    });
}

#[test]
fn composite_attention_like_expression() {
    // softmax(Q Kᵀ/√d + mask) V over split heads, then merged: every op at once.
    let x = rand(&[2, 4, 6], 21);
    let wq = rand(&[6, 6], 22);
    let wk = rand(&[6, 6], 23);
    let wv = rand(&[6, 6], 24);
    check([x, wq, wk, wv], |_g, v| {
        let q = v[0].matmul_t(v[1]).split_heads(2);
        let k = v[0].matmul_t(v[2]).split_heads(2);
        let val = v[0].matmul_t(v[3]).split_heads(2);
        let a = q.matmul_t(k).scale(1.0 / 3f64.sqrt()).causal_mask(0).softmax();
        a.matmul(val).merge_heads()
    });
}
