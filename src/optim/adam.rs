use super::Optimizer;
use crate::autograd::{Param, ParamId};
use crate::tensor::Float;
use std::collections::HashMap;
use std::sync::Mutex;

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

/// The numbers of one step, shared by every element it updates.
#[derive(Clone, Copy)]
struct StepConsts<E> {
    /// lr / (1 − β₁ᵗ).
    step_size: E,
    beta2: E,
    one_minus_beta1: E,
    one_minus_beta2: E,
    eps: E,
    /// 1 / √(1 − β₂ᵗ).
    inv_bc2: E,
}

/// The part of one parameter that one thread updates: weights, gradient and
/// both moments, with what weight decay does to them.
struct Slab<'a, E> {
    w: &'a mut [E],
    g: &'a [E],
    m: &'a mut [E],
    v: &'a mut [E],
    /// AdamW's decoupled decay: θ ← θ·shrink first (1 when it does not apply).
    shrink: E,
    /// Adam's L2 penalty: g ← g + λθ (`None` when it does not apply).
    l2: Option<E>,
}

impl<E: Float> Slab<'_, E> {
    /// The update of the type's doc, element by element.
    fn update(self, c: StepConsts<E>) {
        let elements = self
            .w
            .iter_mut()
            .zip(self.g)
            .zip(self.m.iter_mut())
            .zip(self.v.iter_mut());
        for (((w, &g), m), v) in elements {
            let g = match self.l2 {
                Some(wd) => g + wd * *w,
                None => g,
            };
            *m = *m + c.one_minus_beta1 * (g - *m);
            *v = c.beta2 * *v + c.one_minus_beta2 * g * g;
            *w = *w * self.shrink - c.step_size * *m / (v.sqrt() * c.inv_bc2 + c.eps);
        }
    }

    /// Cuts the slab at element `at`.
    fn split_at(self, at: usize) -> (Self, Self) {
        let (w0, w1) = self.w.split_at_mut(at);
        let (g0, g1) = self.g.split_at(at);
        let (m0, m1) = self.m.split_at_mut(at);
        let (v0, v1) = self.v.split_at_mut(at);
        let (shrink, l2) = (self.shrink, self.l2);
        (
            Slab {
                w: w0,
                g: g0,
                m: m0,
                v: v0,
                shrink,
                l2,
            },
            Slab {
                w: w1,
                g: g1,
                m: m1,
                v: v1,
                shrink,
                l2,
            },
        )
    }
}

/// Deals `slabs` out to `shares` groups of about equal size, cutting a slab
/// where a group fills up.
fn deal<E: Float>(slabs: Vec<Slab<'_, E>>, shares: usize) -> Vec<Vec<Slab<'_, E>>> {
    let total: usize = slabs.iter().map(|s| s.w.len()).sum();
    let per = total.div_ceil(shares.max(1)).max(1);
    let mut groups: Vec<Vec<Slab<E>>> = vec![Vec::new()];
    let mut room = per;
    for mut slab in slabs {
        while slab.w.len() > room {
            let (head, tail) = slab.split_at(room);
            groups.last_mut().expect("a group").push(head);
            groups.push(Vec::new());
            room = per;
            slab = tail;
        }
        room -= slab.w.len();
        groups.last_mut().expect("a group").push(slab);
    }
    groups
}

impl<E: Float> AdamCore<E> {
    /// One step for every parameter with a gradient: the weights and moments
    /// of all of them are cut into one slab per thread, updated side by side.
    fn step(&mut self, params: &mut [&mut Param<E>]) {
        self.t += 1;
        let consts = StepConsts {
            step_size: E::from_f64(self.lr / (1.0 - self.beta1.powi(self.t))),
            beta2: E::from_f64(self.beta2),
            one_minus_beta1: E::from_f64(1.0 - self.beta1),
            one_minus_beta2: E::from_f64(1.0 - self.beta2),
            eps: E::from_f64(self.eps),
            inv_bc2: E::from_f64(1.0 / (1.0 - self.beta2.powi(self.t)).sqrt()),
        };
        // The moments of every parameter with a gradient, taken out of the
        // map for the step (so that each slab can borrow its own) and put back.
        let mut moments: Vec<(ParamId, Moments<E>)> = params
            .iter()
            .filter(|p| p.grad.is_some())
            .map(|p| {
                let n = p.numel();
                let st = self.state.remove(&p.id()).unwrap_or_else(|| Moments {
                    m: vec![E::ZERO; n],
                    v: vec![E::ZERO; n],
                });
                (p.id(), st)
            })
            .collect();
        let with_grads = params.iter_mut().filter(|p| p.grad.is_some());
        let slabs: Vec<Slab<E>> = with_grads
            .zip(moments.iter_mut())
            .map(|(p, (_, st))| {
                let decays =
                    self.weight_decay != 0.0 && (self.filter == DecayFilter::All || p.value.rank() >= 2);
                let Param { value, grad, .. } = &mut **p;
                Slab {
                    w: value.data_mut(),
                    g: grad.as_ref().expect("only parameters with a gradient").data(),
                    m: &mut st.m,
                    v: &mut st.v,
                    shrink: E::from_f64(if decays && self.decoupled {
                        1.0 - self.lr * self.weight_decay
                    } else {
                        1.0
                    }),
                    l2: (decays && !self.decoupled).then(|| E::from_f64(self.weight_decay)),
                }
            })
            .collect();
        let total: usize = slabs.iter().map(|s| s.w.len()).sum();
        let threads = super::threads_for(total);
        if threads == 1 {
            slabs.into_iter().for_each(|s| s.update(consts));
        } else {
            let groups: Vec<Mutex<Vec<Slab<E>>>> = deal(slabs, threads).into_iter().map(Mutex::new).collect();
            crate::threads::run_shares(groups.len(), threads, |i| {
                let group = std::mem::take(&mut *groups[i].lock().unwrap_or_else(|e| e.into_inner()));
                group.into_iter().for_each(|s| s.update(consts));
            });
        }
        self.state.extend(moments);
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
