//! Optimizers and the tools around them: SGD with momentum, Adam and AdamW
//! (following PyTorch's update rules step for step), clipping by global norm,
//! and a warm-up + cosine learning-rate schedule.
//!
//! An optimizer reads each parameter's `grad` (filled by
//! [`crate::autograd::Grads::assign`]) and updates its `value` in place.
//! Parameters without a gradient are skipped, as in PyTorch.

mod adam;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW, DecayFilter};
pub use schedule::Schedule;
pub use sgd::Sgd;

use crate::autograd::Param;
use crate::tensor::Float;

/// Something that updates parameters from their gradients.
pub trait Optimizer<E: Float> {
    /// One update of every parameter that has a gradient.
    fn step(&mut self, params: &mut [&mut Param<E>]);
    /// The learning rate used by the next `step` (schedules set it every step).
    fn set_lr(&mut self, lr: f64);
    fn lr(&self) -> f64;
}

/// Global L2 norm of all gradients, √(Σ‖g‖²), accumulated in `f64`.
pub fn grad_norm<E: Float>(params: &[&mut Param<E>]) -> f64 {
    params
        .iter()
        .filter_map(|p| p.grad.as_ref())
        .flat_map(|g| g.data().iter())
        .map(|&x| x.to_f64() * x.to_f64())
        .sum::<f64>()
        .sqrt()
}

/// Scales all gradients so that their global norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` (factor max_norm / (norm + 1e-6), only if
/// below 1). Returns the norm before clipping.
pub fn clip_grad_norm<E: Float>(params: &mut [&mut Param<E>], max_norm: f64) -> f64 {
    let norm = grad_norm(params);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        let c = E::from_f64(coef);
        for g in params.iter_mut().filter_map(|p| p.grad.as_mut()) {
            g.data_mut().iter_mut().for_each(|x| *x *= c);
        }
    }
    norm
}
