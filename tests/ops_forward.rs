//! Every op's forward pass against the same computation written as plain loops
//! in the test (no engine code), plus a few hand-derived values.

use approx::assert_abs_diff_eq;
use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::{Graph, Tensor};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: got {g}, want {w}"
        );
    }
}

/// Plain triple loop: C[i][j] = Σ_p A[i][p]·B[p][j] for row-major slices.
fn naive_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * b[p * n + j] as f64;
            }
            c[i * n + j] = s as f32;
        }
    }
    c
}

fn naive_transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

#[test]
fn matmul_matches_loops_in_all_three_forms() {
    let (m, k, n) = (5, 7, 3);
    let a = rand(&[m, k], 1);
    let b = rand(&[k, n], 2);
    let want = naive_matmul(a.data(), b.data(), m, k, n);
    let g = Graph::new();
    let (av, bv) = (g.constant(a.clone()), g.constant(b.clone()));
    assert_close(av.matmul(bv).value().data(), &want, 1e-5);
    // A·Bᵀ with Bᵀ stored, and Aᵀ·B with Aᵀ stored, give the same product.
    let bt = g.constant(Tensor::from_vec([n, k], naive_transpose(b.data(), k, n)));
    let at = g.constant(Tensor::from_vec([k, m], naive_transpose(a.data(), m, k)));
    assert_close(av.matmul_t(bt).value().data(), &want, 1e-5);
    assert_close(at.t_matmul(bv).value().data(), &want, 1e-5);
    assert_eq!(av.matmul(bv).shape().dims(), &[m, n]);
}

#[test]
fn matmul_batched_and_shared_weight() {
    let (bsz, m, k, n) = (3, 4, 5, 2);
    let a = rand(&[bsz, m, k], 3);
    let b = rand(&[bsz, k, n], 4);
    let w = rand(&[k, n], 5);
    let g = Graph::new();
    let (av, bv, wv) = (
        g.constant(a.clone()),
        g.constant(b.clone()),
        g.constant(w.clone()),
    );
    let batched = av.matmul(bv).value();
    let shared = av.matmul(wv).value();
    assert_eq!(batched.dims(), &[bsz, m, n]);
    for i in 0..bsz {
        let ai = &a.data()[i * m * k..(i + 1) * m * k];
        let bi = &b.data()[i * k * n..(i + 1) * k * n];
        assert_close(
            &batched.data()[i * m * n..(i + 1) * m * n],
            &naive_matmul(ai, bi, m, k, n),
            1e-5,
        );
        assert_close(
            &shared.data()[i * m * n..(i + 1) * m * n],
            &naive_matmul(ai, w.data(), m, k, n),
            1e-5,
        );
    }
}

#[test]
fn matmul_hand_example() {
    // [[1, 2], [3, 4]] · [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
    let g = Graph::new();
    let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    let b = g.constant(Tensor::from_vec([2, 2], vec![5.0, 6.0, 7.0, 8.0]));
    assert_eq!(a.matmul(b).value().data(), &[19.0, 22.0, 43.0, 50.0]);
}

#[test]
fn elementwise_with_broadcasting() {
    let a = rand(&[2, 3, 4], 6);
    let row = rand(&[4], 7);
    let plane = rand(&[3, 4], 8);
    let g = Graph::new();
    let (av, rv, pv) = (
        g.constant(a.clone()),
        g.constant(row.clone()),
        g.constant(plane.clone()),
    );
    let s = g.constant(Tensor::scalar(2.5));
    let add = (av + rv).value();
    let sub = (rv - av).value();
    let mul = (av * pv).value();
    let div = (av / s).value();
    for i in 0..24 {
        let (x, r, p) = (a.data()[i], row.data()[i % 4], plane.data()[i % 12]);
        assert_abs_diff_eq!(add.data()[i], x + r);
        assert_abs_diff_eq!(sub.data()[i], r - x);
        assert_abs_diff_eq!(mul.data()[i], x * p);
        assert_abs_diff_eq!(div.data()[i], x / 2.5);
    }
    assert_eq!(add.dims(), &[2, 3, 4]);
    assert_eq!(sub.dims(), &[2, 3, 4]);
}

#[test]
fn unary_functions() {
    let x = rand(&[10], 9);
    let g = Graph::new();
    let v = g.constant(x.clone());
    let pos = g.constant(Tensor::from_vec([3], vec![0.5f32, 1.0, 4.0]));
    for (i, &xi) in x.data().iter().enumerate() {
        assert_abs_diff_eq!(v.tanh().value().data()[i], xi.tanh(), epsilon = 1e-6);
        assert_abs_diff_eq!(v.relu().value().data()[i], if xi > 0.0 { xi } else { 0.0 });
        assert_abs_diff_eq!(
            v.sigmoid().value().data()[i],
            1.0 / (1.0 + (-xi).exp()),
            epsilon = 1e-6
        );
        assert_abs_diff_eq!(v.exp().value().data()[i], xi.exp(), epsilon = 1e-5);
        assert_abs_diff_eq!(v.scale(3.0).value().data()[i], 3.0 * xi);
        assert_abs_diff_eq!((-v).value().data()[i], -xi);
    }
    assert_close(pos.log().value().data(), &[0.5f32.ln(), 0.0, 4.0f32.ln()], 1e-6);
    // sigmoid does not overflow for large |x|
    let big = g.constant(Tensor::from_vec([2], vec![-1000.0f32, 1000.0]));
    assert_eq!(big.sigmoid().value().data(), &[0.0, 1.0]);
}

#[test]
fn sums_and_means() {
    let x = rand(&[3, 4], 10);
    let g = Graph::new();
    let v = g.constant(x.clone());
    let total: f32 = x.data().iter().sum();
    assert_abs_diff_eq!(v.sum().item() as f32, total, epsilon = 1e-5);
    assert_abs_diff_eq!(v.mean().item() as f32, total / 12.0, epsilon = 1e-6);
    let rows: Vec<f32> = x.data().chunks(4).map(|r| r.iter().sum()).collect();
    assert_close(v.sum_last().value().data(), &rows, 1e-6);
    let means: Vec<f32> = rows.iter().map(|s| s / 4.0).collect();
    assert_close(v.mean_last().value().data(), &means, 1e-6);
    assert_eq!(v.sum_last().shape().dims(), &[3]);
    assert_eq!(v.sum().shape().rank(), 0);
}

#[test]
fn softmax_log_softmax_and_cross_entropy() {
    let x = rand(&[4, 5], 11);
    let targets = [0usize, 4, 2, 2];
    let g = Graph::new();
    let v = g.constant(x.clone());
    let sm = v.softmax().value();
    let lsm = v.log_softmax().value();
    let mut loss = 0.0f64;
    for (r, row) in x.data().chunks(5).enumerate() {
        let z: f64 = row.iter().map(|&a| (a as f64).exp()).sum();
        for j in 0..5 {
            let p = (row[j] as f64).exp() / z;
            assert_abs_diff_eq!(sm.data()[r * 5 + j] as f64, p, epsilon = 1e-6);
            assert_abs_diff_eq!(lsm.data()[r * 5 + j] as f64, p.ln(), epsilon = 1e-5);
        }
        loss += z.ln() - row[targets[r]] as f64;
    }
    assert_abs_diff_eq!(v.cross_entropy(&targets).item(), loss / 4.0, epsilon = 1e-5);
    // Uniform logits: the loss is ln(V) whatever the target.
    let flat = g.constant(Tensor::zeros([2, 7]));
    assert_abs_diff_eq!(flat.cross_entropy(&[3, 6]).item(), 7f64.ln(), epsilon = 1e-6);
}

#[test]
fn softmax_is_stable_for_huge_logits() {
    let g = Graph::new();
    let v = g.constant(Tensor::from_vec([1, 3], vec![1000.0f32, 1000.0, -1000.0]));
    assert_close(v.softmax().value().data(), &[0.5, 0.5, 0.0], 1e-6);
    assert_abs_diff_eq!(v.cross_entropy(&[0]).item(), 2f64.ln(), epsilon = 1e-5);
    assert!(v.log_softmax().value().data().iter().all(|x| x.is_finite()));
}

#[test]
fn causal_mask_blocks_the_future() {
    let g = Graph::new();
    let x = g.constant(Tensor::ones([2, 3, 3]));
    let m = x.causal_mask(0).value();
    for b in 0..2 {
        for i in 0..3 {
            for j in 0..3 {
                let v = m.at(&[b, i, j]);
                if j > i {
                    assert_eq!(v, f32::NEG_INFINITY)
                } else {
                    assert_eq!(v, 1.0)
                }
            }
        }
    }
    // After softmax, masked weights are exactly 0 and rows still sum to 1.
    let a = x.causal_mask(0).softmax().value();
    assert_eq!(a.at(&[0, 0, 1]), 0.0);
    assert_eq!(a.at(&[0, 0, 0]), 1.0);
    assert_close(
        &[a.at(&[1, 2, 0]), a.at(&[1, 2, 1]), a.at(&[1, 2, 2])],
        &[1.0 / 3.0; 3],
        1e-6,
    );
    // With 2 cached positions, query 0 sees keys 0..=2 of 4.
    let y = g.constant(Tensor::zeros([2, 4])).causal_mask(2).value();
    assert_eq!(y.data()[..4], [0.0, 0.0, 0.0, f32::NEG_INFINITY]);
    assert_eq!(y.data()[4..], [0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn layer_norm_matches_loops() {
    let x = rand(&[3, 6], 12);
    let w = rand(&[6], 13);
    let b = rand(&[6], 14);
    let g = Graph::new();
    let y = g
        .constant(x.clone())
        .layer_norm(g.constant(w.clone()), g.constant(b.clone()), 1e-5)
        .value();
    for r in 0..3 {
        let row: Vec<f64> = x.data()[r * 6..(r + 1) * 6].iter().map(|&v| v as f64).collect();
        let mean = row.iter().sum::<f64>() / 6.0;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0; // biased, as PyTorch
        for j in 0..6 {
            let want = (row[j] - mean) / (var + 1e-5).sqrt() * w.data()[j] as f64 + b.data()[j] as f64;
            assert_abs_diff_eq!(y.data()[r * 6 + j] as f64, want, epsilon = 1e-5);
        }
    }
}

#[test]
fn embedding_gathers_rows() {
    let table = rand(&[6, 3], 15);
    let g = Graph::new();
    let ids = [5usize, 0, 5, 2];
    let y = g.constant(table.clone()).embedding(&ids, [2, 2]).value();
    assert_eq!(y.dims(), &[2, 2, 3]);
    for (i, &id) in ids.iter().enumerate() {
        assert_eq!(&y.data()[i * 3..i * 3 + 3], &table.data()[id * 3..id * 3 + 3]);
    }
}

#[test]
fn shape_ops_move_numbers_as_defined() {
    let (b, t, h, d) = (2, 3, 2, 4);
    let x = rand(&[b, t, h * d], 16);
    let g = Graph::new();
    let v = g.constant(x.clone());
    let split = v.split_heads(h).value();
    assert_eq!(split.dims(), &[b, h, t, d]);
    for bi in 0..b {
        for ti in 0..t {
            for hi in 0..h {
                for di in 0..d {
                    assert_eq!(split.at(&[bi, hi, ti, di]), x.at(&[bi, ti, hi * d + di]));
                }
            }
        }
    }
    assert_eq!(v.split_heads(h).merge_heads().value().data(), x.data());
    let tr = v.transpose().value();
    assert_eq!(tr.dims(), &[b, h * d, t]);
    assert_eq!(tr.at(&[1, 5, 2]), x.at(&[1, 2, 5]));
    let sl = v.slice(1, 1, 3).value();
    assert_eq!(sl.dims(), &[b, 2, h * d]);
    assert_eq!(sl.at(&[1, 0, 7]), x.at(&[1, 1, 7]));
    let cat = shortmem::Var::concat(&[v.slice(1, 0, 1), v.slice(1, 1, 3)], 1).value();
    assert_eq!(cat.data(), x.data());
    let r = v.reshape([b * t, h * d]).value();
    assert!(r.shares_buffer(&x), "reshape must not copy");
}

#[test]
fn dropout_scales_survivors_and_is_identity_in_eval() {
    let x = Tensor::<f32>::ones([1000]);
    let eval = Graph::new();
    let e = eval.constant(x.clone());
    assert_eq!(
        e.dropout(0.5, None).id(),
        e.id(),
        "eval-mode dropout records nothing"
    );
    let train = Graph::new();
    let y = train
        .constant(x.clone())
        .dropout(0.25, Some(&mut StdRng::seed_from_u64(7)))
        .value();
    let kept = y.data().iter().filter(|&&v| v != 0.0).count();
    assert!(
        y.data()
            .iter()
            .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6)
    );
    assert!((650..850).contains(&kept), "kept {kept} of 1000 at p = 0.25");
    // Same seed, same mask.
    let again = Graph::new()
        .constant(x)
        .dropout(0.25, Some(&mut StdRng::seed_from_u64(7)))
        .value();
    assert_eq!(y.data(), again.data());
}

#[test]
fn matmul_with_an_empty_inner_dimension_gives_zeros() {
    // [2, 0]·[0, 3]: a sum of no terms in every entry.
    let g = Graph::new();
    let a = g.input(Tensor::<f32>::zeros([2, 0]));
    let b = g.input(Tensor::<f32>::zeros([0, 3]));
    let c = a.matmul(b);
    assert_eq!(c.value().dims(), [2, 3]);
    assert!(c.value().data().iter().all(|&v| v == 0.0));
    let grads = c.sum().backward();
    assert_eq!(grads.wrt(a).map(|t| t.numel()), Some(0));
    assert_eq!(grads.wrt(b).map(|t| t.numel()), Some(0));
}

/// Layer norm survives what a one-pass f32 mean does not: a constant row of
/// 1e37 (whose sum overflows) and a row offset by 1e7 (whose deviations the sum
/// swamps); each against the same rows normalised in f64.
#[test]
fn layer_norm_survives_large_values_and_large_offsets() {
    let d = 8;
    let by_f64 = |row: &[f32]| -> Vec<f64> {
        let x: Vec<f64> = row.iter().map(|&v| v as f64).collect();
        let mean = x.iter().sum::<f64>() / d as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
        x.iter().map(|v| (v - mean) / (var + 1e-5).sqrt()).collect()
    };
    let offset: Vec<f32> = (0..d).map(|i| 1e7 + i as f32).collect();
    for row in [vec![1e37f32; d], offset] {
        let g = Graph::new();
        let y = g
            .constant(Tensor::from_vec([1, d], row.clone()))
            .layer_norm(
                g.constant(Tensor::ones([d])),
                g.constant(Tensor::zeros([d])),
                1e-5,
            )
            .value();
        for (i, (got, want)) in y.data().iter().zip(by_f64(&row)).enumerate() {
            assert!(
                got.is_finite() && (*got as f64 - want).abs() < 1e-4,
                "{}: element {i}: {got} vs {want}",
                row[0]
            );
        }
    }
}
