//! The tape: leaves, parameters, reuse, retained gradients, inference mode.

use shortmem::{Graph, Param, Tensor};

#[test]
fn a_parameter_used_many_times_is_one_leaf_with_summed_gradient() {
    // L = Σ (w·x₁) + Σ (w·x₂) + Σ (w·x₃): dL/dw = x₁ + x₂ + x₃.
    let mut w = Param::new("w", Tensor::<f64>::from_vec([2], vec![0.5, -2.0]));
    let xs = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]];
    let g = Graph::new();
    let mut loss = None;
    let before = g.len();
    for x in xs {
        let term = (g.param(&w) * g.constant(Tensor::from_vec([2], x.to_vec()))).sum();
        loss = Some(match loss {
            None => term,
            Some(l) => l + term,
        });
    }
    // one leaf for w, then per use: constant, mul, sum; plus two adds
    assert_eq!(g.len() - before, 1 + 3 * 3 + 2);
    let grads = loss.unwrap().backward();
    assert_eq!(grads.param(&w).unwrap().data(), &[4.5, 1.25]);
    grads.assign(&mut [&mut w]);
    assert_eq!(w.grad.unwrap().data(), &[4.5, 1.25]);
}

#[test]
fn the_graph_shares_parameter_buffers_instead_of_copying() {
    let w = Param::new("w", Tensor::<f32>::zeros([64, 64]));
    let g = Graph::new();
    let v = g.param(&w);
    assert!(v.value().shares_buffer(&w.value));
    let r = v.reshape([4096]);
    assert!(r.value().shares_buffer(&w.value));
}

#[test]
fn constants_and_unreached_nodes_get_no_gradient() {
    let mut used = Param::new("used", Tensor::<f64>::ones([3]));
    let mut unused = Param::new("unused", Tensor::<f64>::ones([3]));
    let g = Graph::new();
    let c = g.constant(Tensor::full([3], 2.0));
    let _side = g.param(&unused).tanh(); // recorded, but not part of the loss
    let loss = (g.param(&used) * c).sum();
    let grads = loss.backward();
    assert!(grads.wrt(c).is_none());
    assert!(grads.param(&unused).is_none());
    grads.assign(&mut [&mut used, &mut unused]);
    assert_eq!(used.grad.as_ref().unwrap().data(), &[2.0; 3]);
    assert!(unused.grad.is_none());
}

#[test]
fn retained_intermediate_gradients() {
    // h = 3x, L = Σ h²: dL/dh = 2h = 6x.
    let g = Graph::<f64>::new();
    let x = g.input(Tensor::from_vec([2], vec![1.0, -2.0]));
    let h = x.scale(3.0).retain_grad();
    let other = x.scale(5.0); // not retained
    let loss = (h * h).sum() + other.sum();
    let grads = loss.backward();
    assert_eq!(grads.wrt(h).unwrap().data(), &[6.0, -12.0]);
    assert!(
        grads.wrt(other).is_none(),
        "intermediate gradients are freed unless retained"
    );
    assert_eq!(grads.wrt(x).unwrap().data(), &[18.0 + 5.0, -36.0 + 5.0]);
}

#[test]
fn inference_graphs_record_no_backward() {
    let w = Param::new("w", Tensor::<f32>::ones([2, 2]));
    let g = Graph::inference();
    let y = g.param(&w).matmul(g.param(&w)).tanh().sum();
    assert!(!g.requires_grad(y));
    let grads = y.backward();
    assert!(grads.param(&w).is_none());
    assert!((y.item() - 4.0 * 2f64.tanh()).abs() < 1e-6);
}

#[test]
fn backward_can_run_twice_and_clear_reuses_the_graph() {
    let mut g = Graph::<f64>::new();
    {
        let x = g.input(Tensor::from_vec([1], vec![2.0]));
        let y = (x * x * x).sum(); // dy/dx = 3x² = 12
        assert_eq!(y.backward().wrt(x).unwrap().data(), &[12.0]);
        assert_eq!(y.backward().wrt(x).unwrap().data(), &[12.0]);
    }
    assert!(!g.is_empty());
    g.clear();
    assert!(g.is_empty());
}

#[test]
#[should_panic(expected = "op: an input belongs to another graph")]
fn mixing_graphs_is_refused() {
    let g1 = Graph::<f32>::new();
    let g2 = Graph::<f32>::new();
    let a = g1.constant(Tensor::ones([1]));
    let b = g2.input(Tensor::ones([1]));
    let _ = b + a;
}

/// Gradients are written by the first contribution to reach a node and added
/// by the later ones (the kernels' β = 0, then 1). A weight shared by a batch
/// of products (one gradient summed over the entries) and used twice, and an
/// input used twice in one op, against sums written out as plain loops.
#[test]
fn first_gradient_written_then_added_matches_plain_sums() {
    let (b, k, m, n) = (3, 4, 5, 2);
    let xv: Vec<f64> = (0..b * k * m).map(|i| (i as f64 * 0.37).sin()).collect();
    let wv: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
    let cv: Vec<f64> = (0..b * m * n).map(|i| 1.0 + i as f64 * 0.1).collect();
    let g = Graph::new();
    let x = g.input(Tensor::from_vec([b, k, m], xv.clone()));
    let w = g.input(Tensor::from_vec([k, n], wv.clone()));
    let c = g.constant(Tensor::from_vec([b, m, n], cv.clone()));
    // L = Σ c ⊙ (xᵀw) + Σ 2·c ⊙ (xᵀw) (w and x each reach two products) + Σ x ⊙ x.
    let y1 = x.t_matmul(w) * c;
    let y2 = x.t_matmul(w).scale(2.0) * c;
    let loss = y1.sum() + y2.sum() + (x * x).sum();
    let grads = loss.backward();
    // dL/dw[p][j] = 3 Σ_b Σ_i x_b[p][i] c_b[i][j];  dL/dx_b[p][i] = 3 Σ_j w[p][j] c_b[i][j] + 2 x_b[p][i].
    let gw = grads.wrt(w).expect("w has a gradient").data().to_vec();
    for p in 0..k {
        for j in 0..n {
            let want: f64 = (0..b)
                .flat_map(|bi| (0..m).map(move |i| (bi, i)))
                .map(|(bi, i)| 3.0 * xv[(bi * k + p) * m + i] * cv[(bi * m + i) * n + j])
                .sum();
            assert!(
                (gw[p * n + j] - want).abs() < 1e-12,
                "dw[{p}][{j}]: {} against {want}",
                gw[p * n + j]
            );
        }
    }
    let gx = grads.wrt(x).expect("x has a gradient").data().to_vec();
    for bi in 0..b {
        for p in 0..k {
            for i in 0..m {
                let want = (0..n)
                    .map(|j| 3.0 * wv[p * n + j] * cv[(bi * m + i) * n + j])
                    .sum::<f64>()
                    + 2.0 * xv[(bi * k + p) * m + i];
                let got = gx[(bi * k + p) * m + i];
                assert!(
                    (got - want).abs() < 1e-12,
                    "dx[{bi}][{p}][{i}]: {got} against {want}"
                );
            }
        }
    }
}
