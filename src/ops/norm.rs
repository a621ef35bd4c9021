//! Layer normalisation over the last axis, forward and backward fused.

use crate::autograd::Var;
use crate::ops::lanes::{add_into, dot_lanes, sum_by_lanes};
use crate::tensor::{Float, Tensor, scratch};

impl<'g, E: Float> Var<'g, E> {
    /// Layer norm over the last axis (size D), as `torch.nn.LayerNorm`:
    /// x̂ = (x − μ) / √(σ² + ε) with the biased variance σ², then y = x̂ ⊙ w + b.
    ///
    /// Backward (per row, with r = 1/√(σ² + ε) and ĝ = dy ⊙ w):
    /// dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)), dw = Σ_rows dy ⊙ x̂, db = Σ_rows dy.
    pub fn layer_norm(self, weight: Var<'g, E>, bias: Var<'g, E>, eps: f64) -> Var<'g, E> {
        let (x, w, b) = (self.value(), weight.value(), bias.value());
        let d = x.shape().last();
        assert!(
            w.dims() == [d] && b.dims() == [d],
            "layer_norm: input {} needs weight and bias of shape [{d}], got {} and {}",
            x.shape(),
            w.shape(),
            b.shape()
        );
        let eps = E::from_f64(eps);
        let inv_d = E::from_usize(d).recip();
        let rows = x.shape().rows();
        // Keep x̂ and 1/σ per row for the backward pass (as tensors, so that
        // their buffers return to the pool when the graph is dropped).
        let mut xhat = scratch(x.numel());
        let mut rstd = scratch(rows);
        let mut y = scratch(x.numel());
        let (wd, bd) = (&w.data()[..d], &b.data()[..d]);
        for (r, ((xr, hr), yr)) in x
            .data()
            .chunks(d)
            .zip(xhat.chunks_mut(d))
            .zip(y.chunks_mut(d))
            .enumerate()
        {
            // Shifted two-pass: deviations are measured from x₀ first, and the
            // mean m₀ of those (small, exact) differences is subtracted from
            // them, so that a large common offset neither overflows a sum (a
            // row of 1e37) nor swamps the deviations (a row near 1e7, where
            // the mean itself is not an f32).
            let shift = xr[0];
            let m0 = sum_by_lanes(d, |i| xr[i] - shift) * inv_d;
            let dev = |i: usize| (xr[i] - shift) - m0;
            let var = sum_by_lanes(d, |i| dev(i) * dev(i)) * inv_d;
            rstd[r] = (var + eps).sqrt().recip();
            for i in 0..d {
                hr[i] = dev(i) * rstd[r];
                yr[i] = hr[i] * wd[i] + bd[i];
            }
        }
        let (xhat, rstd) = (Tensor::from_vec(x.shape(), xhat), Tensor::from_vec([rows], rstd));
        let (ix, iw, ib) = (self.id, weight.id, bias.id);
        self.g.op(
            "layer_norm",
            Tensor::from_vec(x.shape(), y),
            &[self, weight, bias],
            Box::new(move |dy, grads| {
                let (dy, xhat, rstd, w) = (dy.data(), xhat.data(), rstd.data(), &w.data()[..d]);
                // dw and db are summed over the rows in the same pass as dx, so
                // that dy and x̂ are read once. They are summed from zeros and
                // then added to the parameters' gradients: for a layer norm
                // whose weights serve once in the graph (every model here) the
                // same bits as adding each row into the gradient; weights
                // shared by several get the same sum up to rounding.
                let (need_w, need_b) = (grads.needs(iw), grads.needs(ib));
                let (mut dw, mut db) = (vec![E::ZERO; d], vec![E::ZERO; d]);
                let mut gx = grads.slot_beta(ix);
                for (r, (dr, hr)) in dy.chunks(d).zip(xhat.chunks(d)).enumerate() {
                    let (dr, hr) = (&dr[..d], &hr[..d]);
                    if need_w {
                        for i in 0..d {
                            dw[i] += dr[i] * hr[i];
                        }
                    }
                    if need_b {
                        add_into(&mut db, dr);
                    }
                    if let Some((gx, beta)) = gx.as_mut() {
                        let gr = &mut gx[r * d..][..d];
                        let mean_g = dot_lanes(dr, w) * inv_d;
                        let mean_gh = sum_by_lanes(d, |i| dr[i] * w[i] * hr[i]) * inv_d;
                        // Written on the first gradient to reach x (β = 0), added after.
                        let dx = |i: usize| rstd[r] * (dr[i] * w[i] - mean_g - hr[i] * mean_gh);
                        if *beta == E::ZERO {
                            (0..d).for_each(|i| gr[i] = dx(i));
                        } else {
                            (0..d).for_each(|i| gr[i] += dx(i));
                        }
                    }
                }
                if need_w {
                    grads.add(iw, &dw);
                }
                if need_b {
                    grads.add(ib, &db);
                }
            }),
        )
    }
}
