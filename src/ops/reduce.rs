//! Sums and means, over everything or over the last axis.

use crate::autograd::Var;
use crate::ops::lanes::sum_lanes;
use crate::tensor::{Float, Shape, Tensor, scratch};

impl<'g, E: Float> Var<'g, E> {
    /// Σ of all elements, a scalar. Backward: ∂y/∂xᵢ = 1.
    pub fn sum(self) -> Var<'g, E> {
        self.sum_all_scaled(1.0)
    }

    /// Mean of all elements, a scalar. Backward: ∂y/∂xᵢ = 1/n.
    pub fn mean(self) -> Var<'g, E> {
        let n = self.shape().numel().max(1);
        self.sum_all_scaled(1.0 / n as f64)
    }

    /// s·Σx, shared by `sum` and `mean`. Backward: ∂y/∂xᵢ = s.
    fn sum_all_scaled(self, s: f64) -> Var<'g, E> {
        let x = self.value();
        let s = E::from_f64(s);
        let y = sum_lanes(x.data()) * s;
        let ix = self.id;
        self.g.op(
            "sum",
            Tensor::scalar(y),
            &[self],
            Box::new(move |dy, grads| {
                let d = dy.item() * s;
                if let Some(gx) = grads.slot(ix) {
                    gx.iter_mut().for_each(|g| *g += d);
                }
            }),
        )
    }

    /// Σ over the last axis: `[…, n]` → `[…]`. Backward: each row's gradient is
    /// copied to all n of its elements.
    pub fn sum_last(self) -> Var<'g, E> {
        self.sum_last_scaled(1.0)
    }

    /// Mean over the last axis: `[…, n]` → `[…]`. Backward: ∂y/∂xᵢ = 1/n.
    pub fn mean_last(self) -> Var<'g, E> {
        let n = self.shape().last().max(1);
        self.sum_last_scaled(1.0 / n as f64)
    }

    /// s·Σ over the last axis, shared by `sum_last` and `mean_last`.
    fn sum_last_scaled(self, s: f64) -> Var<'g, E> {
        let x = self.value();
        let shape = x.shape();
        assert!(
            shape.rank() >= 1,
            "sum_last: needs at least one axis, got a scalar"
        );
        let n = shape.last();
        let s = E::from_f64(s);
        let out_shape: Shape = shape.drop_last();
        let mut out = scratch(out_shape.numel());
        for (i, o) in out.iter_mut().enumerate() {
            *o = sum_lanes(&x.data()[i * n..(i + 1) * n]) * s;
        }
        let ix = self.id;
        self.g.op(
            "sum",
            Tensor::from_vec(out_shape, out),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    for (row, &d) in gx.chunks_mut(n.max(1)).zip(dy.data()) {
                        row.iter_mut().for_each(|g| *g += d * s);
                    }
                }
            }),
        )
    }
}
