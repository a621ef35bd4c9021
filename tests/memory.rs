//! Parameters outlive the tape: training for 2,000 steps allocates nothing that
//! survives a step. (Alone in its own test binary, because the live-buffer
//! counter is process-wide and other tests would move it.)

use rand::SeedableRng;
use rand::rngs::StdRng;
use shortmem::nn::Linear;
use shortmem::optim::{AdamW, Optimizer, clip_grad_norm};
use shortmem::tensor::live_buffers;
use shortmem::{Graph, Module, Tensor};

shortmem::module! {
    struct Mlp<E> {
        params {
            l1: Linear<E>,
            l2: Linear<E>,
        }
    }
}

#[test]
fn tape_length_and_live_buffers_stay_flat_over_2000_steps() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Mlp {
        l1: Linear::new("0", 4, 16, &mut rng),
        l2: Linear::new("2", 16, 3, &mut rng),
    };
    let x = Tensor::<f32>::randn([8, 4], 0.0, 1.0, &mut rng);
    let y: Vec<usize> = (0..8).map(|i| i % 3).collect();
    let mut opt = AdamW::new(0.01);
    let mut seen = Vec::new();
    let mut losses = Vec::new();
    for step in 1..=2000 {
        let g = Graph::new();
        let h = model.l1.forward(&g, g.constant(x.clone())).relu();
        let loss = model.l2.forward(&g, h).cross_entropy(&y);
        losses.push(loss.item());
        let tape = g.len();
        let grads = loss.backward();
        drop(g);
        let mut params = model.params_mut();
        grads.assign(&mut params);
        clip_grad_norm(&mut params, 1.0);
        opt.step(&mut params);
        if step == 10 || step == 2000 {
            seen.push((tape, live_buffers()));
        }
    }
    assert_eq!(
        seen[0], seen[1],
        "(tape length, live buffers) at step 10 vs step 2000"
    );
    assert!(
        losses[1999] < 0.1 * losses[0],
        "the model still learns: {} → {}",
        losses[0],
        losses[1999]
    );
}
