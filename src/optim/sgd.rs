use super::Optimizer;
use crate::autograd::{Param, ParamId};
use crate::tensor::{Float, Tensor};
use std::collections::HashMap;

/// Stochastic gradient descent with momentum, as `torch.optim.SGD`
/// (no dampening, no Nesterov):
/// g ← ∇ + λ·θ;  b ← μ·b + g (b = g at the first step);  θ ← θ − lr·b.
pub struct Sgd<E: Float = f32> {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    buffers: HashMap<ParamId, Tensor<E>>,
}

impl<E: Float> Sgd<E> {
    pub fn new(lr: f64, momentum: f64) -> Self {
        Sgd {
            lr,
            momentum,
            weight_decay: 0.0,
            buffers: HashMap::new(),
        }
    }
}

impl<E: Float> Optimizer<E> for Sgd<E> {
    fn step(&mut self, params: &mut [&mut Param<E>]) {
        let (lr, mu, wd) = (
            E::from_f64(self.lr),
            E::from_f64(self.momentum),
            E::from_f64(self.weight_decay),
        );
        for p in params.iter_mut() {
            let Some(grad) = p.grad.as_ref() else { continue };
            let mut g: Vec<E> = grad.data().to_vec();
            if self.weight_decay != 0.0 {
                g.iter_mut().zip(p.value.data()).for_each(|(g, &w)| *g += wd * w);
            }
            if self.momentum != 0.0 {
                match self.buffers.get_mut(&p.id()) {
                    Some(buf) => {
                        for (b, g) in buf.data_mut().iter_mut().zip(g.iter_mut()) {
                            *b = mu * *b + *g;
                            *g = *b;
                        }
                    }
                    None => {
                        self.buffers
                            .insert(p.id(), Tensor::from_slice(p.value.shape(), &g));
                    }
                }
            }
            p.value
                .data_mut()
                .iter_mut()
                .zip(&g)
                .for_each(|(w, &g)| *w -= lr * g);
        }
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn lr(&self) -> f64 {
        self.lr
    }
}
