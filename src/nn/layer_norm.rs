use super::join;
use crate::autograd::{Graph, Module, Param, Var};
use crate::tensor::{Float, Tensor};

/// Layer normalisation over the last axis, as `torch.nn.LayerNorm(dim)`.
pub struct LayerNorm<E: Float = f32> {
    pub weight: Param<E>,
    pub bias: Param<E>,
    pub eps: f64,
}

impl<E: Float> LayerNorm<E> {
    /// Weight ones, bias zeros, ε = 1e-5, as PyTorch.
    pub fn new(name: &str, dim: usize) -> Self {
        LayerNorm {
            weight: Param::new(join(name, "weight"), Tensor::ones([dim])),
            bias: Param::new(join(name, "bias"), Tensor::zeros([dim])),
            eps: 1e-5,
        }
    }

    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        x.layer_norm(g.param(&self.weight), g.param(&self.bias), self.eps)
    }
}

impl<E: Float> Module<E> for LayerNorm<E> {
    fn params(&self) -> Vec<&Param<E>> {
        vec![&self.weight, &self.bias]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<E>> {
        vec![&mut self.weight, &mut self.bias]
    }
}
