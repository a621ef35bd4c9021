use super::join;
use crate::autograd::{Graph, Module, Param, Var};
use crate::tensor::{Float, Shape, Tensor};
use rand::Rng;

/// A lookup table of `num` vectors of size `dim`, as `torch.nn.Embedding`.
pub struct Embedding<E: Float = f32> {
    pub weight: Param<E>,
}

impl<E: Float> Embedding<E> {
    /// PyTorch's default initialisation: every entry from N(0, 1).
    pub fn new<R: Rng + ?Sized>(name: &str, num: usize, dim: usize, rng: &mut R) -> Self {
        Embedding {
            weight: Param::new(join(name, "weight"), Tensor::randn([num, dim], 0.0, 1.0, rng)),
        }
    }

    pub fn num(&self) -> usize {
        self.weight.value.dims()[0]
    }

    pub fn dim(&self) -> usize {
        self.weight.value.dims()[1]
    }

    /// Token ids laid out as `shape` → their vectors, `[..shape, dim]`.
    pub fn forward<'g>(&self, g: &'g Graph<E>, ids: &[usize], shape: impl Into<Shape>) -> Var<'g, E> {
        g.param(&self.weight).embedding(ids, shape)
    }
}

impl<E: Float> Module<E> for Embedding<E> {
    fn params(&self) -> Vec<&Param<E>> {
        vec![&self.weight]
    }
    fn params_mut(&mut self) -> Vec<&mut Param<E>> {
        vec![&mut self.weight]
    }
}
