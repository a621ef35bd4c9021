//! Where a parameter's first numbers come from.
//!
//! A constructor asks an [`Init`] for each parameter it creates, by name, shape
//! and the distribution it would be drawn from. Three kinds of `Init` answer:
//!
//! * any random generator (`StdRng`, …): the numbers are drawn, as PyTorch's
//!   constructors draw them;
//! * a checkpoint being loaded ([`crate::checkpoint`]): the saved tensor of that
//!   name, after checking its shape;
//! * [`Converted`]: the same parameter of another module, cast to this float
//!   type (an `f32` model measured in `f64`).
//!
//! So one constructor builds a fresh model, a loaded one and a converted one,
//! and a model's parameters, their names and their shapes are written once.

use super::{Module, Param};
use crate::tensor::{Float, Tensor};
use rand::Rng;
use std::collections::HashMap;

/// The distribution a fresh parameter is drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// U(−bound, bound).
    Uniform(f64),
    /// N(0, std²).
    Normal(f64),
    Zeros,
    Ones,
}

/// A source of parameters for a constructor (see the module's introduction).
pub trait Init<E: Float> {
    /// The parameter `name` of shape `dims`, drawn from `dist` if this source draws.
    fn param(&mut self, name: &str, dims: &[usize], dist: Dist) -> Param<E>;

    /// Draws `p` again from `dist`, as PyTorch's layers do after building their
    /// parts (`_reset_parameters`). Only a source that draws does anything: a
    /// loaded or converted parameter keeps its numbers.
    fn reset(&mut self, p: &mut Param<E>, dist: Dist);

    /// The parameter `name` of shape `dims`, from U(−bound, bound) if drawn.
    fn uniform(&mut self, name: &str, dims: &[usize], bound: f64) -> Param<E> {
        self.param(name, dims, Dist::Uniform(bound))
    }

    /// The parameter `name` of shape `dims`, from N(0, std²) if drawn.
    fn normal(&mut self, name: &str, dims: &[usize], std: f64) -> Param<E> {
        self.param(name, dims, Dist::Normal(std))
    }

    /// The parameter `name` of shape `dims`, zeros if fresh.
    fn zeros(&mut self, name: &str, dims: &[usize]) -> Param<E> {
        self.param(name, dims, Dist::Zeros)
    }

    /// The parameter `name` of shape `dims`, ones if fresh.
    fn ones(&mut self, name: &str, dims: &[usize]) -> Param<E> {
        self.param(name, dims, Dist::Ones)
    }
}

/// A tensor of shape `dims` drawn from `dist` with `rng`.
fn draw<E: Float, R: Rng + ?Sized>(dims: &[usize], dist: Dist, rng: &mut R) -> Tensor<E> {
    match dist {
        Dist::Uniform(bound) => Tensor::rand_uniform(dims, -bound, bound, rng),
        Dist::Normal(std) => Tensor::randn(dims, 0.0, std, rng),
        Dist::Zeros => Tensor::zeros(dims),
        Dist::Ones => Tensor::ones(dims),
    }
}

/// Every random generator draws fresh parameters.
impl<E: Float, R: Rng + ?Sized> Init<E> for R {
    fn param(&mut self, name: &str, dims: &[usize], dist: Dist) -> Param<E> {
        Param::new(name, draw(dims, dist, self))
    }

    fn reset(&mut self, p: &mut Param<E>, dist: Dist) {
        p.value = draw(p.value.dims(), dist, self);
    }
}

/// Parameters copied by name from another module and converted to this float
/// type: `Rnn::new(…, &mut Converted::from(&model))` rebuilds an `Rnn<f32>` as an
/// `Rnn<f64>` with the same numbers.
pub struct Converted<'m, F: Float> {
    by_name: HashMap<&'m str, &'m Param<F>>,
}

impl<'m, F: Float> Converted<'m, F> {
    pub fn from(module: &'m impl Module<F>) -> Self {
        let by_name = module
            .params()
            .into_iter()
            .map(|p| (p.name.as_str(), p))
            .collect();
        Converted { by_name }
    }
}

impl<E: Float, F: Float> Init<E> for Converted<'_, F> {
    /// # Panics
    /// If the source module has no parameter of that name and shape: the two
    /// modules must be built by the same constructor with the same sizes.
    fn param(&mut self, name: &str, dims: &[usize], _: Dist) -> Param<E> {
        match self.by_name.get(name) {
            Some(p) if p.value.dims() == dims => Param::new(name, p.value.cast()),
            _ => panic!("Converted: the source module has no parameter `{name}` of shape {dims:?}"),
        }
    }

    fn reset(&mut self, _: &mut Param<E>, _: Dist) {}
}
