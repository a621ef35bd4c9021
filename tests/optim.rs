//! Optimizers against PyTorch's numbers and against the update rules written
//! out by hand in this file; clipping and the learning-rate schedule.

use shortmem::optim::{Adam, AdamW, DecayFilter, Optimizer, Schedule, Sgd, clip_grad_norm, grad_norm};
use shortmem::{Param, Tensor};

const W0: [f64; 4] = [0.5, -1.0, 2.0, 0.0];
const T: [f64; 4] = [1.0, 1.0, -1.0, 0.5];
const C: [f64; 4] = [1.0, 2.0, 3.0, 4.0];

/// ∇ of L(w) = Σ cᵢ(wᵢ − tᵢ)² + 0.1 Σ wᵢ³, by hand: 2cᵢ(wᵢ − tᵢ) + 0.3wᵢ².
fn grad(w: &[f64]) -> Vec<f64> {
    (0..4)
        .map(|i| 2.0 * C[i] * (w[i] - T[i]) + 0.3 * w[i] * w[i])
        .collect()
}

/// Three optimizer steps on the fixed problem, gradients computed by `grad`.
fn run(opt: &mut dyn Optimizer<f64>) -> Vec<f64> {
    let mut p = Param::new("w", Tensor::from_slice([4], &W0));
    for _ in 0..3 {
        p.grad = Some(Tensor::from_vec([4], grad(p.value.data())));
        opt.step(&mut [&mut p]);
    }
    p.value.data().to_vec()
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < tol, "element {i}: got {g:.12}, want {w:.12}");
    }
}

// Numbers printed by `python tools/optim_reference.py` (PyTorch 2.15, float64).
const TORCH_SGD: [f64; 4] = [0.893111747878, 2.016143969615, -3.812142493598, 0.925281196800];
const TORCH_ADAM: [f64; 4] = [0.790995272622, -0.700515974960, 1.700404768898, 0.295150685014];
const TORCH_ADAMW: [f64; 4] = [0.775550902301, -0.673856152017, 1.644087320867, 0.292313306554];

#[test]
fn sgd_momentum_matches_pytorch() {
    let mut opt = Sgd::new(0.1, 0.9);
    opt.weight_decay = 0.1;
    assert_close(&run(&mut opt), &TORCH_SGD, 1e-10);
}

#[test]
fn adam_matches_pytorch() {
    let mut opt = Adam::new(0.1)
        .betas(0.9, 0.99)
        .weight_decay(0.1, DecayFilter::All);
    assert_close(&run(&mut opt), &TORCH_ADAM, 1e-10);
}

#[test]
fn adamw_matches_pytorch() {
    let mut opt = AdamW::new(0.1)
        .betas(0.9, 0.99)
        .weight_decay(0.1, DecayFilter::All);
    assert_close(&run(&mut opt), &TORCH_ADAMW, 1e-10);
}

/// The textbook forms, written independently: Adam with an L2 term or AdamW
/// with decoupled decay, m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), w −= lr·m̂/(√v̂ + ε).
fn adam_by_hand(decoupled: bool, lr: f64, b1: f64, b2: f64, eps: f64, wd: f64, steps: i32) -> Vec<f64> {
    let mut w = W0.to_vec();
    let (mut m, mut v) = (vec![0.0; 4], vec![0.0; 4]);
    for t in 1..=steps {
        let mut g = grad(&w);
        for i in 0..4 {
            if decoupled {
                w[i] -= lr * wd * w[i];
            } else {
                g[i] += wd * w[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            w[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
    w
}

#[test]
fn adam_and_adamw_match_the_update_rule_written_out() {
    for (decoupled, want) in [
        (false, adam_by_hand(false, 0.1, 0.9, 0.99, 1e-8, 0.1, 3)),
        (true, adam_by_hand(true, 0.1, 0.9, 0.99, 1e-8, 0.1, 3)),
    ] {
        let got = if decoupled {
            run(&mut AdamW::new(0.1)
                .betas(0.9, 0.99)
                .weight_decay(0.1, DecayFilter::All))
        } else {
            run(&mut Adam::new(0.1)
                .betas(0.9, 0.99)
                .weight_decay(0.1, DecayFilter::All))
        };
        assert_close(&got, &want, 1e-12);
    }
    // The hand-written rule agrees with PyTorch too.
    assert_close(
        &adam_by_hand(true, 0.1, 0.9, 0.99, 1e-8, 0.1, 3),
        &TORCH_ADAMW,
        1e-10,
    );
}

#[test]
fn adam_first_step_moves_each_weight_by_lr() {
    // With bias correction, step 1 is lr·g/(|g| + ε): every weight moves by ≈ lr.
    let mut p = Param::new("w", Tensor::<f32>::from_vec([3], vec![0.0, 0.0, 0.0]));
    p.grad = Some(Tensor::from_vec([3], vec![3.0, -0.01, 100.0]));
    Adam::new(0.05).step(&mut [&mut p]);
    for (w, want) in p.value.data().iter().zip([-0.05, 0.05, -0.05]) {
        assert!((w - want).abs() < 1e-6, "{w} vs {want}");
    }
}

#[test]
fn weight_decay_can_skip_vectors() {
    // MatricesOnly: a bias with zero gradient stays put, a matrix shrinks.
    let mut m = Param::new("w", Tensor::<f64>::full([2, 2], 1.0));
    let mut b = Param::new("b", Tensor::<f64>::full([2], 1.0));
    m.grad = Some(Tensor::zeros([2, 2]));
    b.grad = Some(Tensor::zeros([2]));
    AdamW::new(0.1)
        .weight_decay(0.5, DecayFilter::MatricesOnly)
        .step(&mut [&mut m, &mut b]);
    assert!(m.value.data().iter().all(|&w| (w - 0.95).abs() < 1e-12));
    assert!(b.value.data().iter().all(|&w| w == 1.0));
}

#[test]
fn params_without_gradient_are_left_alone() {
    let mut p = Param::new("unused", Tensor::<f32>::ones([2]));
    AdamW::new(0.1).step(&mut [&mut p]);
    Sgd::new(0.1, 0.9).step(&mut [&mut p]);
    assert_eq!(p.value.data(), &[1.0, 1.0]);
}

#[test]
fn clipping_by_global_norm() {
    let mut a = Param::new("a", Tensor::<f64>::zeros([2]));
    let mut b = Param::new("b", Tensor::<f64>::zeros([1]));
    a.grad = Some(Tensor::from_vec([2], vec![3.0, 0.0]));
    b.grad = Some(Tensor::from_vec([1], vec![4.0]));
    let mut params = [&mut a, &mut b];
    assert_eq!(grad_norm(&params), 5.0);
    let before = clip_grad_norm(&mut params, 1.0);
    assert_eq!(before, 5.0);
    let scale = 1.0 / (5.0 + 1e-6);
    assert!((a.grad.as_ref().unwrap().data()[0] - 3.0 * scale).abs() < 1e-12);
    assert!((b.grad.as_ref().unwrap().data()[0] - 4.0 * scale).abs() < 1e-12);
    // Below the threshold nothing changes.
    let mut params = [&mut a, &mut b];
    clip_grad_norm(&mut params, 10.0);
    assert!((b.grad.as_ref().unwrap().data()[0] - 4.0 * scale).abs() < 1e-12);
}

/// Gradients large enough for the norm and the clipping to run on two threads:
/// the norm against one running sum in f64, the same bits on one thread and
/// two, each gradient scaled by the clipping factor, and a NaN anywhere making
/// the norm NaN (the training loop's finite check).
#[test]
fn clipping_on_two_threads_matches_a_plain_loop() {
    let sizes = [70_000, 3, 50_000, 1];
    let make = || -> Vec<Param<f32>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut p = Param::new(format!("p{i}"), Tensor::<f32>::zeros([n]));
                let g: Vec<f32> = (0..n)
                    .map(|j| ((j * 7 + i * 13) % 101) as f32 / 50.0 - 1.0)
                    .collect();
                p.grad = Some(Tensor::from_vec([n], g));
                p
            })
            .collect()
    };
    let plain = |ps: &[Param<f32>]| -> f64 {
        let mut sum = 0.0f64;
        for p in ps {
            for &x in p.grad.as_ref().unwrap().data() {
                sum += x as f64 * x as f64;
            }
        }
        sum.sqrt()
    };
    let mut one = make();
    let mut two = make();
    let want = plain(&one);
    let norm_one = shortmem::threads::with_threads(1, || {
        let mut refs: Vec<&mut Param<f32>> = one.iter_mut().collect();
        clip_grad_norm(&mut refs, 1.0)
    });
    let norm_two = shortmem::threads::with_threads(2, || {
        let mut refs: Vec<&mut Param<f32>> = two.iter_mut().collect();
        clip_grad_norm(&mut refs, 1.0)
    });
    assert!(
        (norm_one - want).abs() <= 1e-12 * want,
        "{norm_one} against {want}"
    );
    assert_eq!(norm_one.to_bits(), norm_two.to_bits());
    let c = (1.0 / (want + 1e-6)) as f32;
    for ((p1, p2), orig) in one.iter().zip(&two).zip(make()) {
        let (g1, g2) = (p1.grad.as_ref().unwrap().data(), p2.grad.as_ref().unwrap().data());
        for ((&a, &b), &g) in g1.iter().zip(g2).zip(orig.grad.as_ref().unwrap().data()) {
            assert_eq!(a.to_bits(), b.to_bits());
            assert_eq!(a.to_bits(), (g * c).to_bits());
        }
    }
    let mut bad = make();
    bad[2].grad.as_mut().unwrap().data_mut()[123] = f32::NAN;
    let refs: Vec<&mut Param<f32>> = bad.iter_mut().collect();
    assert!(grad_norm(&refs).is_nan());
}

#[test]
fn warmup_cosine_schedule() {
    let s = Schedule::WarmupCosine {
        max_lr: 1e-3,
        min_lr: 1e-4,
        warmup: 100,
        total: 2000,
    };
    assert!((s.lr(0) - 1e-3 / 101.0).abs() < 1e-15);
    assert!((s.lr(99) - 1e-3 * 100.0 / 101.0).abs() < 1e-15);
    assert!((s.lr(100) - 1e-3).abs() < 1e-15, "peak right after warm-up");
    assert!(
        (s.lr(1050) - 5.5e-4).abs() < 1e-12,
        "halfway down the cosine is the midpoint"
    );
    assert!((s.lr(2000) - 1e-4).abs() < 1e-15);
    assert!((s.lr(5000) - 1e-4).abs() < 1e-15);
    let mut last = f64::INFINITY;
    for t in 100..2000 {
        assert!(s.lr(t) <= last, "decreasing after warm-up");
        last = s.lr(t);
    }
    assert_eq!(Schedule::Constant(0.3).lr(12345), 0.3);
}

/// AdamW over parameters large enough to be updated on two threads: the
/// slabs each thread takes must give the same bits as one thread, and both
/// the update rule written out (matrices decay, the vector does not).
#[test]
fn adamw_on_two_threads_equals_one_thread_and_the_rule_written_out() {
    let sizes: [&[usize]; 3] = [&[250, 200], &[7], &[401, 100]];
    let start = |k: usize, i: usize| ((i * 7919 + k * 104_729) % 2001) as f64 / 1000.0 - 1.0;
    let gradient =
        |k: usize, i: usize, step: usize| ((i * 31 + k * 17 + step * 13) % 997) as f64 / 500.0 - 1.0;
    let run = |threads: usize| -> Vec<Vec<f64>> {
        let mut params: Vec<Param<f64>> = sizes
            .iter()
            .enumerate()
            .map(|(k, dims)| {
                let n: usize = dims.iter().product();
                Param::new(
                    format!("p{k}"),
                    Tensor::from_vec(*dims, (0..n).map(|i| start(k, i)).collect()),
                )
            })
            .collect();
        let mut opt = AdamW::new(0.01)
            .betas(0.9, 0.99)
            .weight_decay(0.1, DecayFilter::MatricesOnly);
        shortmem::threads::with_threads(threads, || {
            for step in 0..3 {
                for (k, p) in params.iter_mut().enumerate() {
                    let n = p.numel();
                    p.grad = Some(Tensor::from_vec(
                        p.value.shape(),
                        (0..n).map(|i| gradient(k, i, step)).collect(),
                    ));
                }
                let mut refs: Vec<&mut Param<f64>> = params.iter_mut().collect();
                opt.step(&mut refs);
            }
        });
        params.iter().map(|p| p.value.data().to_vec()).collect()
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one, two, "two threads changed the update");
    // The rule, element by element, for each parameter.
    for (k, got) in one.iter().enumerate() {
        let wd = if sizes[k].len() >= 2 { 0.1 } else { 0.0 };
        for (i, &g) in got.iter().enumerate() {
            let (mut w, mut m, mut v) = (start(k, i), 0.0, 0.0);
            for t in 1..=3 {
                let grad = gradient(k, i, t as usize - 1);
                w -= 0.01 * wd * w;
                m = 0.9 * m + 0.1 * grad;
                v = 0.99 * v + 0.01 * grad * grad;
                let (m_hat, v_hat) = (m / (1.0 - 0.9f64.powi(t)), v / (1.0 - 0.99f64.powi(t)));
                w -= 0.01 * m_hat / (v_hat.sqrt() + 1e-8);
            }
            assert!(
                (g - w).abs() < 1e-12,
                "parameter {k}, element {i}: got {g}, want {w}"
            );
        }
    }
}
