use super::join;
use crate::autograd::{Graph, Init, Param, Var};
use crate::tensor::Float;

crate::module! {
    /// Layer normalisation over the last axis, as `torch.nn.LayerNorm(dim)`.
    pub struct LayerNorm<E> {
        params {
            pub weight: Param<E>,
            pub bias: Param<E>,
        }
        pub eps: f64,
    }
}

impl<E: Float> LayerNorm<E> {
    /// Weight ones, bias zeros, ε = 1e-5, as PyTorch.
    pub fn new<I: Init<E> + ?Sized>(name: &str, dim: usize, init: &mut I) -> Self {
        LayerNorm {
            weight: init.ones(&join(name, "weight"), &[dim]),
            bias: init.zeros(&join(name, "bias"), &[dim]),
            eps: 1e-5,
        }
    }

    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        x.layer_norm(g.param(&self.weight), g.param(&self.bias), self.eps)
    }
}
