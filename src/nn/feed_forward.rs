use super::{Linear, join};
use crate::autograd::{Graph, Module, Param, Var};
use crate::tensor::Float;
use rand::Rng;

/// `Linear → ReLU → Linear`, the `nn.Sequential` of the tutorial's §5: its
/// parameters are named `{name}.0.*` and `{name}.2.*` (index 1 is the ReLU).
pub struct FeedForward<E: Float = f32> {
    pub l1: Linear<E>,
    pub l2: Linear<E>,
}

impl<E: Float> FeedForward<E> {
    pub fn new<R: Rng + ?Sized>(name: &str, dim: usize, hidden: usize, rng: &mut R) -> Self {
        let l1 = Linear::new(&join(name, "0"), dim, hidden, rng);
        let l2 = Linear::new(&join(name, "2"), hidden, dim, rng);
        FeedForward { l1, l2 }
    }

    /// y = ReLU(x·W₁ᵀ + b₁)·W₂ᵀ + b₂.
    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        self.l2.forward(g, self.l1.forward(g, x).relu())
    }
}

impl<E: Float> Module<E> for FeedForward<E> {
    fn params(&self) -> Vec<&Param<E>> {
        let mut p = self.l1.params();
        p.extend(self.l2.params());
        p
    }
    fn params_mut(&mut self) -> Vec<&mut Param<E>> {
        let mut p = self.l1.params_mut();
        p.extend(self.l2.params_mut());
        p
    }
}
