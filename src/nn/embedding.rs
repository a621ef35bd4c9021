use super::join;
use crate::autograd::{Graph, Init, Param, Var};
use crate::tensor::{Float, Shape};

crate::module! {
    /// A lookup table of `num` vectors of size `dim`, as `torch.nn.Embedding`.
    pub struct Embedding<E> {
        params {
            pub weight: Param<E>,
        }
    }
}

impl<E: Float> Embedding<E> {
    /// PyTorch's default initialisation: every entry from N(0, 1).
    pub fn new<I: Init<E> + ?Sized>(name: &str, num: usize, dim: usize, init: &mut I) -> Self {
        Embedding {
            weight: init.normal(&join(name, "weight"), &[num, dim], 1.0),
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
