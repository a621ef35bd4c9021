//! Layers: names as PyTorch state_dict keys, PyTorch's default initialisation,
//! and forward passes against plain loops.

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::nn::{Embedding, FeedForward, LayerNorm, Linear};
use shortmem::{Graph, Module, Tensor};

fn names<M: Module<f32>>(m: &M) -> Vec<String> {
    m.params().iter().map(|p| p.name.clone()).collect()
}

#[test]
fn names_follow_state_dict_keys() {
    let mut rng = StdRng::seed_from_u64(0);
    assert_eq!(
        names(&Linear::<f32>::new("out", 4, 3, &mut rng)),
        ["out.weight", "out.bias"]
    );
    assert_eq!(
        names(&Embedding::<f32>::new("embed", 10, 4, &mut rng)),
        ["embed.weight"]
    );
    assert_eq!(
        names(&LayerNorm::<f32>::new("blocks.0.norm1", 4, &mut rng)),
        ["blocks.0.norm1.weight", "blocks.0.norm1.bias"]
    );
    assert_eq!(
        names(&FeedForward::<f32>::new("blocks.1.ff", 4, 8, &mut rng)),
        [
            "blocks.1.ff.0.weight",
            "blocks.1.ff.0.bias",
            "blocks.1.ff.2.weight",
            "blocks.1.ff.2.bias"
        ]
    );
    assert_eq!(names(&Linear::<f32>::new_no_bias("", 4, 3, &mut rng)), ["weight"]);
}

#[test]
fn linear_init_is_uniform_within_one_over_sqrt_fan_in() {
    let mut rng = StdRng::seed_from_u64(1);
    let l = Linear::<f32>::new("l", 64, 200, &mut rng);
    assert_eq!(l.weight.value.dims(), &[200, 64]);
    let bound = 1.0 / 8.0;
    let w = l.weight.value.data();
    assert!(w.iter().all(|x| x.abs() <= bound));
    // U(−a, a) has variance a²/3.
    let var = w.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / w.len() as f64;
    assert!(
        (var - bound as f64 * bound as f64 / 3.0).abs() < 2e-4,
        "variance {var}"
    );
    let b = l.bias.as_ref().unwrap().value.data();
    assert!(b.iter().all(|x| x.abs() <= bound) && b.iter().any(|&x| x != 0.0));
}

#[test]
fn embedding_init_is_standard_normal_and_layer_norm_is_ones_zeros() {
    let e = Embedding::<f32>::new("e", 100, 100, &mut StdRng::seed_from_u64(2));
    let w = e.weight.value.data();
    let mean = w.iter().map(|&x| x as f64).sum::<f64>() / w.len() as f64;
    let var = w.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / w.len() as f64;
    assert!(
        mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
        "mean {mean} var {var}"
    );
    let ln = LayerNorm::<f32>::new("n", 5, &mut StdRng::seed_from_u64(3));
    assert_eq!(ln.weight.value.data(), &[1.0; 5]);
    assert_eq!(ln.bias.value.data(), &[0.0; 5]);
    assert_eq!(ln.eps, 1e-5);
}

#[test]
fn linear_and_feed_forward_forward_match_loops() {
    let mut rng = StdRng::seed_from_u64(3);
    let ff = FeedForward::<f32>::new("ff", 3, 5, &mut rng);
    let x = Tensor::<f32>::randn([2, 3], 0.0, 1.0, &mut rng);
    let g = Graph::new();
    let y = ff.forward(&g, g.constant(x.clone())).value();
    let (w1, b1) = (
        ff.l1.weight.value.data(),
        ff.l1.bias.as_ref().unwrap().value.data(),
    );
    let (w2, b2) = (
        ff.l2.weight.value.data(),
        ff.l2.bias.as_ref().unwrap().value.data(),
    );
    for r in 0..2 {
        let xr = &x.data()[r * 3..r * 3 + 3];
        let hidden: Vec<f32> = (0..5)
            .map(|j| (b1[j] + (0..3).map(|i| w1[j * 3 + i] * xr[i]).sum::<f32>()).max(0.0))
            .collect();
        for o in 0..3 {
            let want = b2[o] + (0..5).map(|j| w2[o * 5 + j] * hidden[j]).sum::<f32>();
            assert!((y.at(&[r, o]) - want).abs() < 1e-5);
        }
    }
}

#[test]
fn module_counts_and_finds_parameters() {
    let ff = FeedForward::<f32>::new("ff", 4, 8, &mut StdRng::seed_from_u64(4));
    assert_eq!(ff.num_params(), 4 * 8 + 8 + 8 * 4 + 4);
    assert_eq!(ff.param_named("ff.2.bias").unwrap().value.dims(), &[4]);
    assert!(ff.param_named("ff.1.weight").is_none());
}

/// The fused `linear` op against the ops it replaces, bit for bit, forward and
/// backward: `x.matmul_t(w) + b`, with and without the bias, with and without
/// the ReLU, at a depth (k = 300) that takes the kernels two K blocks; x is
/// also used by another op, so its gradient adds to one written before.
#[test]
fn linear_op_equals_matmul_plus_bias_plus_relu_bit_for_bit() {
    let (rows, k, out) = (70, 300, 37);
    let val = |n: usize, s: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * s).sin() * 0.7).collect() };
    let (xv, wv, bv) = (val(rows * k, 0.37), val(out * k, 0.91), val(out, 1.3));
    for (bias, relu) in [(true, true), (true, false), (false, true), (false, false)] {
        let run = |fused: bool| {
            let g = shortmem::Graph::new();
            let x = g.input(Tensor::from_vec([2, rows / 2, k], xv.clone()));
            let w = g.input(Tensor::from_vec([out, k], wv.clone()));
            let b = g.input(Tensor::from_vec([out], bv.clone()));
            let y = if fused {
                x.linear(w, bias.then_some(b), relu)
            } else {
                let z = x.matmul_t(w);
                let z = if bias { z + b } else { z };
                if relu { z.relu() } else { z }
            };
            let loss = (y * y).sum() + x.sum();
            let grads = loss.backward();
            let data = |v| grads.wrt(v).map(|t: &Tensor<f32>| t.data().to_vec());
            (y.value().data().to_vec(), data(x), data(w), data(b))
        };
        let (fused, plain) = (run(true), run(false));
        assert!(fused.0 == plain.0, "bias {bias}, relu {relu}: forward differs");
        assert!(fused.1 == plain.1, "bias {bias}, relu {relu}: dx differs");
        assert!(fused.2 == plain.2, "bias {bias}, relu {relu}: dw differs");
        assert!(fused.3 == plain.3, "bias {bias}, relu {relu}: db differs");
    }
}
