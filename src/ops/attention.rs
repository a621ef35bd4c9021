//! Multi-head scaled dot-product self-attention, fused into one op.
//!
//! Scaling, the causal mask and the softmax are applied inside one pass over the
//! scores, and queries, keys and values are read in place from the packed
//! projection `[B, T, 3D]` (leading dimension 3D), so no head is ever copied
//! out. Written with the unfused ops it would be
//! `softmax(causal_mask(q·kᵀ/√d))·v` over split heads, which is what the §4.2
//! model does and what the tests compare this op against.

use crate::autograd::Var;
use crate::ops::softmax::{softmax_row, softmax_row_backward};
use crate::tensor::{Float, Tensor, recycle, scratch};

/// Rows of the score matrix handled together when the mask is causal.
/// Measured on the medium model's shape (`cargo bench --bench ops -- attention`):
/// 32 and 64 tie, 128 is slower; 64 leaves T ≤ 64 in one block.
const ROW_BLOCK: usize = 64;

/// Splits the T query rows into blocks `(first, end, seen)`: rows `first..end`
/// read keys `0..seen`. With the causal mask a block needs no key after its
/// last row, so the products skip the masked upper triangle block by block
/// (about half of the work at long T); without the mask every row sees all T.
fn row_blocks(t: usize, causal: bool) -> impl Iterator<Item = (usize, usize, usize)> {
    let step = if causal { ROW_BLOCK } else { t.max(1) };
    (0..t).step_by(step).map(move |r0| {
        let r1 = (r0 + step).min(t);
        (r0, r1, if causal { r1 } else { t })
    })
}

/// Where one (batch, head) pair's matrices start inside the packed buffers.
#[derive(Clone, Copy)]
struct Heads {
    b: usize,
    t: usize,
    h: usize,
    d: usize,
}

impl Heads {
    /// Model width D = h·d.
    fn width(&self) -> usize {
        self.h * self.d
    }
    /// Offsets of Q, K, V of head `hi` of sequence `bi` in `[B, T, 3D]`.
    fn qkv(&self, bi: usize, hi: usize) -> (usize, usize, usize) {
        let base = bi * self.t * 3 * self.width() + hi * self.d;
        (base, base + self.width(), base + 2 * self.width())
    }
    /// Offset of head `hi` of sequence `bi` in the output `[B, T, D]`.
    fn out(&self, bi: usize, hi: usize) -> usize {
        bi * self.t * self.width() + hi * self.d
    }
    /// Offset of the `[T, T]` weights of (bi, hi) in `[B, H, T, T]`.
    fn weights(&self, bi: usize, hi: usize) -> usize {
        (bi * self.h + hi) * self.t * self.t
    }
}

impl<'g, E: Float> Var<'g, E> {
    /// Self-attention on packed projections `self = [B, T, 3D]` (Q, K, V side by
    /// side, each split into `heads` blocks of d = D/heads): for every sequence and
    /// head, A = softmax(QKᵀ/√d + M) and O = A·V, where M is −∞ above the diagonal
    /// when `causal` (position i sees positions ≤ i) and 0 otherwise. Returns O as
    /// `[B, T, D]`, heads side by side.
    ///
    /// Backward, per head: dV = Aᵀ·dO, dA = dO·Vᵀ, dS = A ⊙ (dA − rowsum(dA ⊙ A)),
    /// dQ = dS·K/√d, dK = dSᵀ·Q/√d.
    pub fn attention(self, heads: usize, causal: bool) -> Var<'g, E> {
        self.attention_with_weights(heads, causal).0
    }

    /// [`Var::attention`], also returning the attention weights `[B, H, T, T]`
    /// (row i of a head: how much position i draws from each position).
    pub fn attention_with_weights(self, heads: usize, causal: bool) -> (Var<'g, E>, Tensor<E>) {
        let x = self.value();
        let s = x.shape();
        assert!(
            s.rank() == 3 && heads > 0 && s.dims()[2].is_multiple_of(3 * heads),
            "attention: expected packed projections [B, T, 3·D] with D divisible by {heads} heads, got {s}"
        );
        let dims = Heads {
            b: s.dims()[0],
            t: s.dims()[1],
            h: heads,
            d: s.dims()[2] / 3 / heads,
        };
        let Heads { b, t, h, d } = dims;
        let (width, ld) = (dims.width(), 3 * dims.width());
        let scale = E::from_f64(1.0 / (d as f64).sqrt());
        // Every element is written below: each head fills its own columns.
        let mut out = scratch(b * t * width);
        let mut weights = scratch(b * h * t * t);
        let q = x.data();
        // ANCHOR: attention_forward
        for bi in 0..b {
            for hi in 0..h {
                let (oq, ok, ov) = dims.qkv(bi, hi);
                let a = &mut weights[dims.weights(bi, hi)..][..t * t];
                for (r0, r1, seen) in row_blocks(t, causal) {
                    let rows = r1 - r0;
                    let a = &mut a[r0 * t..];
                    // S = Q·Kᵀ/√d for these rows, against the `seen` keys only
                    #[rustfmt::skip]
                    E::gemm(false, true, rows, seen, d, scale, &q[oq + r0 * ld..], ld, &q[ok..], ld, E::ZERO, a, t);
                    for (i, row) in (r0..r1).zip(a.chunks_mut(t)) {
                        // the mask: row i keeps columns 0..=i and gets exact zeros after
                        let keep = if causal { i + 1 } else { t };
                        softmax_row(&mut row[..keep]);
                        row[keep..].iter_mut().for_each(|v| *v = E::ZERO);
                    }
                    // O = A·V for these rows, written into this head's columns
                    #[rustfmt::skip]
                    E::gemm(false, false, rows, d, seen, E::ONE, a, t, &q[ov..], ld, E::ZERO, &mut out[dims.out(bi, hi) + r0 * width..], width);
                }
            }
        }
        // ANCHOR_END: attention_forward
        let weights = Tensor::from_vec([b, h, t, t], weights);
        let a_all = weights.clone();
        let ix = self.id;
        let y = self.g.op(
            Tensor::from_vec([b, t, width], out),
            &[self],
            Box::new(move |dy, grads| {
                let Some(gx) = grads.slot(ix) else { return };
                let (q, dy, a_all) = (x.data(), dy.data(), a_all.data());
                let mut da = scratch(t * t);
                let mut ds = scratch(t * t);
                for bi in 0..b {
                    for hi in 0..h {
                        let (oq, ok, ov) = dims.qkv(bi, hi);
                        let a = &a_all[dims.weights(bi, hi)..][..t * t];
                        for (r0, r1, seen) in row_blocks(t, causal) {
                            let rows = r1 - r0;
                            let (a, q_rows) = (&a[r0 * t..], &q[oq + r0 * ld..]);
                            let d_o = &dy[dims.out(bi, hi) + r0 * width..];
                            // dV += Aᵀ·dO
                            #[rustfmt::skip]
                            E::gemm(true, false, seen, d, rows, E::ONE, a, t, d_o, width, E::ONE, &mut gx[ov..], ld);
                            // dA = dO·Vᵀ, then back through the softmax of each row's kept columns
                            #[rustfmt::skip]
                            E::gemm(false, true, rows, seen, d, E::ONE, d_o, width, &q[ov..], ld, E::ZERO, &mut da, t);
                            for (i, ((ar, dar), dsr)) in (r0..r1).zip(a.chunks(t).zip(da.chunks(t)).zip(ds.chunks_mut(t))) {
                                let keep = if causal { i + 1 } else { t };
                                dsr[..seen].iter_mut().for_each(|v| *v = E::ZERO);
                                softmax_row_backward(&ar[..keep], &dar[..keep], &mut dsr[..keep]);
                            }
                            // dQ += dS·K/√d, dK += dSᵀ·Q/√d
                            #[rustfmt::skip]
                            E::gemm(false, false, rows, d, seen, scale, &ds, t, &q[ok..], ld, E::ONE, &mut gx[oq + r0 * ld..], ld);
                            #[rustfmt::skip]
                            E::gemm(true, false, seen, d, rows, scale, &ds, t, q_rows, ld, E::ONE, &mut gx[ok..], ld);
                        }
                    }
                }
                recycle(da);
                recycle(ds);
            }),
        );
        (y, weights)
    }
}
