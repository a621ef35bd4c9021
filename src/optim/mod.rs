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
use crate::ops::lanes::sum_by_lanes;
use crate::tensor::Float;
use crate::threads::run_shares;
use std::sync::Mutex;

/// Something that updates parameters from their gradients.
pub trait Optimizer<E: Float> {
    /// One update of every parameter that has a gradient.
    fn step(&mut self, params: &mut [&mut Param<E>]);
    /// The learning rate used by the next `step` (schedules set it every step).
    fn set_lr(&mut self, lr: f64);
    fn lr(&self) -> f64;
}

/// Below this many values in all, the gradient's norm, the clipping and the
/// optimizer's update stay on one thread: waking a worker would cost more
/// than it saves.
const PARALLEL_MIN: usize = 1 << 16;

/// The threads to spread a pass over `values` gradient values over.
fn threads_for(values: usize) -> usize {
    if values >= PARALLEL_MIN {
        crate::threads::threads()
    } else {
        1
    }
}

/// Global L2 norm of all gradients, √(Σ‖g‖²), accumulated in `f64`. Each
/// gradient's sum of squares is taken in eight partial sums (which the
/// compiler keeps in vector registers), the gradients side by side on the
/// threads, and the sums are added in the parameters' order: the same bits on
/// any number of threads. A gradient with an infinity or a NaN makes the norm
/// non-finite, so the norm doubles as the training loop's finite check.
pub fn grad_norm<E: Float>(params: &[&mut Param<E>]) -> f64 {
    let grads: Vec<&[E]> = params
        .iter()
        .filter_map(|p| p.grad.as_ref().map(|g| g.data()))
        .collect();
    let squares: Vec<Mutex<f64>> = grads.iter().map(|_| Mutex::new(0.0)).collect();
    let values = grads.iter().map(|g| g.len()).sum();
    run_shares(grads.len(), threads_for(values), |i| {
        let g = grads[i];
        let sum = sum_by_lanes(g.len(), |j| g[j].to_f64() * g[j].to_f64());
        *squares[i].lock().unwrap_or_else(|e| e.into_inner()) = sum;
    });
    squares
        .into_iter()
        .map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()))
        .sum::<f64>()
        .sqrt()
}

/// Scales all gradients so that their global norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` (factor max_norm / (norm + 1e-6), only if
/// below 1). Returns the norm before clipping.
pub fn clip_grad_norm<E: Float>(params: &mut [&mut Param<E>], max_norm: f64) -> f64 {
    let norm = grad_norm(params);
    clip_to_norm(params, norm, max_norm);
    norm
}

/// [`clip_grad_norm`] for gradients whose global norm `norm` is already
/// known (the training loop has it from its finite check): the gradients
/// are scaled side by side on the threads.
pub fn clip_to_norm<E: Float>(params: &mut [&mut Param<E>], norm: f64, max_norm: f64) {
    let coef = max_norm / (norm + 1e-6);
    // A NaN norm (coef NaN) leaves the gradients alone, as before.
    if coef >= 1.0 || coef.is_nan() {
        return;
    }
    let c = E::from_f64(coef);
    let values = params
        .iter()
        .filter_map(|p| p.grad.as_ref())
        .map(|g| g.numel())
        .sum();
    // (One lock per gradient, taken once, hands each job its own slice.)
    let grads: Vec<Mutex<&mut [E]>> = params
        .iter_mut()
        .filter_map(|p| p.grad.as_mut().map(|g| Mutex::new(g.data_mut())))
        .collect();
    run_shares(grads.len(), threads_for(values), |i| {
        let mut g = grads[i].lock().unwrap_or_else(|e| e.into_inner());
        g.iter_mut().for_each(|x| *x *= c);
    });
}
