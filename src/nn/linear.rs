use super::join;
use crate::autograd::{Graph, Module, Param, Var};
use crate::tensor::{Float, Tensor};
use rand::Rng;

/// A fully connected layer, `y = x·Wᵀ + b`, with `W` stored `[out, in]` as in
/// `torch.nn.Linear`.
pub struct Linear<E: Float = f32> {
    pub weight: Param<E>,
    pub bias: Option<Param<E>>,
}

impl<E: Float> Linear<E> {
    /// PyTorch's default initialisation: W and b drawn from U(−1/√in, 1/√in).
    pub fn new<R: Rng + ?Sized>(name: &str, in_dim: usize, out_dim: usize, rng: &mut R) -> Self {
        let bound = 1.0 / (in_dim as f64).sqrt();
        let weight = Tensor::rand_uniform([out_dim, in_dim], -bound, bound, rng);
        let bias = Tensor::rand_uniform([out_dim], -bound, bound, rng);
        Linear {
            weight: Param::new(join(name, "weight"), weight),
            bias: Some(Param::new(join(name, "bias"), bias)),
        }
    }

    /// The same layer without a bias term.
    pub fn new_no_bias<R: Rng + ?Sized>(name: &str, in_dim: usize, out_dim: usize, rng: &mut R) -> Self {
        Linear {
            bias: None,
            ..Self::new(name, in_dim, out_dim, rng)
        }
    }

    pub fn in_dim(&self) -> usize {
        self.weight.value.dims()[1]
    }

    pub fn out_dim(&self) -> usize {
        self.weight.value.dims()[0]
    }

    /// `x: [.., in]` → `[.., out]`: y = x·Wᵀ + b.
    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        let y = x.matmul_t(g.param(&self.weight));
        match &self.bias {
            Some(b) => y + g.param(b),
            None => y,
        }
    }
}

impl<E: Float> Module<E> for Linear<E> {
    fn params(&self) -> Vec<&Param<E>> {
        std::iter::once(&self.weight).chain(&self.bias).collect()
    }
    fn params_mut(&mut self) -> Vec<&mut Param<E>> {
        std::iter::once(&mut self.weight).chain(&mut self.bias).collect()
    }
}
