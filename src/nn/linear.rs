use super::join;
use crate::autograd::{Graph, Init, Param, Var};
use crate::tensor::Float;

crate::module! {
    /// A fully connected layer, `y = x·Wᵀ + b`, with `W` stored `[out, in]` as in
    /// `torch.nn.Linear`.
    pub struct Linear<E> {
        params {
            pub weight: Param<E>,
            pub bias: Option<Param<E>>,
        }
    }
}

impl<E: Float> Linear<E> {
    /// PyTorch's default initialisation: W and b drawn from U(−1/√in, 1/√in).
    pub fn new<I: Init<E> + ?Sized>(name: &str, in_dim: usize, out_dim: usize, init: &mut I) -> Self {
        let bound = 1.0 / (in_dim as f64).sqrt();
        Linear {
            weight: init.uniform(&join(name, "weight"), &[out_dim, in_dim], bound),
            bias: Some(init.uniform(&join(name, "bias"), &[out_dim], bound)),
        }
    }

    /// The same layer without a bias term.
    pub fn new_no_bias<I: Init<E> + ?Sized>(name: &str, in_dim: usize, out_dim: usize, init: &mut I) -> Self {
        let bound = 1.0 / (in_dim as f64).sqrt();
        Linear {
            weight: init.uniform(&join(name, "weight"), &[out_dim, in_dim], bound),
            bias: None,
        }
    }

    pub fn in_dim(&self) -> usize {
        self.weight.value.dims()[1]
    }

    pub fn out_dim(&self) -> usize {
        self.weight.value.dims()[0]
    }

    /// `x: [.., in]` → `[.., out]`: y = x·Wᵀ + b (one op, [`Var::linear`]).
    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        x.linear(
            g.param(&self.weight),
            self.bias.as_ref().map(|b| g.param(b)),
            false,
        )
    }

    /// ReLU(x·Wᵀ + b), the bias and the ReLU applied in the product's one op.
    pub fn forward_relu<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        x.linear(
            g.param(&self.weight),
            self.bias.as_ref().map(|b| g.param(b)),
            true,
        )
    }
}
