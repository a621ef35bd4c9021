use super::{Linear, join};
use crate::autograd::{Graph, Init, Var};
use crate::tensor::Float;

crate::module! {
    /// `Linear → ReLU → Linear`, the `nn.Sequential` of the tutorial's §5: its
    /// parameters are named `{name}.0.*` and `{name}.2.*` (index 1 is the ReLU).
    pub struct FeedForward<E> {
        params {
            pub l1: Linear<E>,
            pub l2: Linear<E>,
        }
    }
}

impl<E: Float> FeedForward<E> {
    pub fn new<I: Init<E> + ?Sized>(name: &str, dim: usize, hidden: usize, init: &mut I) -> Self {
        let l1 = Linear::new(&join(name, "0"), dim, hidden, init);
        let l2 = Linear::new(&join(name, "2"), hidden, dim, init);
        FeedForward { l1, l2 }
    }

    /// y = ReLU(x·W₁ᵀ + b₁)·W₂ᵀ + b₂.
    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        self.l2.forward(g, self.l1.forward_relu(g, x))
    }
}
