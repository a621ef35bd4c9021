use super::Optimizer;
use crate::autograd::{Param, ParamId};
use crate::tensor::Float;
use std::collections::HashMap;

/// Which parameters weight decay applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecayFilter {
    /// Every parameter (PyTorch's default for a single parameter group).
    All,
    /// Only matrices (rank ≥ 2: weights and embeddings), not biases or norm
    /// gains, as nanoGPT configures AdamW.
    MatricesOnly,
}

/// First and second moment estimates of one parameter.
struct Moments<E> {
    m: Vec<E>,
    v: Vec<E>,
}

/// The shared core of Adam and AdamW, following `torch.optim.Adam(W)` exactly:
///
/// t ← t + 1;  m ← m + (1 − β₁)(g − m);  v ← β₂v + (1 − β₂)g²;
/// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
///
/// Adam adds λθ to the gradient first (L2 penalty); AdamW instead shrinks the
/// weights, θ ← θ(1 − lr·λ), before the update (decoupled weight decay).
struct AdamCore<E: Float> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    filter: DecayFilter,
    t: i32,
    state: HashMap<ParamId, Moments<E>>,
}

impl<E: Float> AdamCore<E> {
    fn step(&mut self, params: &mut [&mut Param<E>]) {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t);
        let bc2_sqrt = (1.0 - self.beta2.powi(self.t)).sqrt();
        let step_size = E::from_f64(self.lr / bc1);
        let b2 = E::from_f64(self.beta2);
        let (one_b1, one_b2) = (E::from_f64(1.0 - self.beta1), E::from_f64(1.0 - self.beta2));
        let (eps, inv_bc2) = (E::from_f64(self.eps), E::from_f64(1.0 / bc2_sqrt));
        for p in params.iter_mut() {
            let Some(grad) = p.grad.as_ref() else { continue };
            let decays = self.weight_decay != 0.0 && (self.filter == DecayFilter::All || p.value.rank() >= 2);
            let wd = E::from_f64(self.weight_decay);
            let n = p.numel();
            let st = self.state.entry(p.id()).or_insert_with(|| Moments {
                m: vec![E::ZERO; n],
                v: vec![E::ZERO; n],
            });
            let w = p.value.data_mut();
            if decays && self.decoupled {
                let shrink = E::from_f64(1.0 - self.lr * self.weight_decay);
                w.iter_mut().for_each(|x| *x *= shrink);
            }
            for i in 0..n {
                let mut g = grad.data()[i];
                if decays && !self.decoupled {
                    g += wd * w[i];
                }
                let m = st.m[i];
                st.m[i] = m + one_b1 * (g - m);
                st.v[i] = b2 * st.v[i] + one_b2 * g * g;
                let denom = st.v[i].sqrt() * inv_bc2 + eps;
                w[i] -= step_size * st.m[i] / denom;
            }
        }
    }
}

/// Adam (`torch.optim.Adam`): defaults β = (0.9, 0.999), ε = 1e-8, no weight decay.
pub struct Adam<E: Float = f32>(AdamCore<E>);

/// AdamW (`torch.optim.AdamW`): defaults β = (0.9, 0.999), ε = 1e-8, weight decay 0.01.
pub struct AdamW<E: Float = f32>(AdamCore<E>);

macro_rules! adam_api {
    ($name:ident, $decoupled:expr, $wd:expr) => {
        impl<E: Float> $name<E> {
            pub fn new(lr: f64) -> Self {
                $name(AdamCore {
                    lr,
                    beta1: 0.9,
                    beta2: 0.999,
                    eps: 1e-8,
                    weight_decay: $wd,
                    decoupled: $decoupled,
                    filter: DecayFilter::All,
                    t: 0,
                    state: HashMap::new(),
                })
            }
            pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
                self.0.beta1 = beta1;
                self.0.beta2 = beta2;
                self
            }
            pub fn eps(mut self, eps: f64) -> Self {
                self.0.eps = eps;
                self
            }
            pub fn weight_decay(mut self, wd: f64, filter: DecayFilter) -> Self {
                self.0.weight_decay = wd;
                self.0.filter = filter;
                self
            }
            /// Number of steps taken so far.
            pub fn steps(&self) -> i32 {
                self.0.t
            }
        }

        impl<E: Float> Optimizer<E> for $name<E> {
            fn step(&mut self, params: &mut [&mut Param<E>]) {
                self.0.step(params)
            }
            fn set_lr(&mut self, lr: f64) {
                self.0.lr = lr;
            }
            fn lr(&self) -> f64 {
                self.0.lr
            }
        }
    };
}

adam_api!(Adam, false, 0.0);
adam_api!(AdamW, true, 0.01);

impl<E: Float> AdamW<E> {
    /// AdamW as nanoGPT trains small character-level models: β = (0.9, 0.99)
    /// and weight decay 0.1 on matrices only (its `configure_optimizers`),
    /// learning rate `lr` (a schedule may set it at every step).
    pub fn nanogpt(lr: f64) -> Self {
        Self::new(lr)
            .betas(0.9, 0.99)
            .weight_decay(0.1, DecayFilter::MatricesOnly)
    }
}
