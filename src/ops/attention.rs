//! Multi-head scaled dot-product self-attention, fused into one op.
//!
//! Scaling, the causal mask and the softmax are applied inside one pass over the
//! scores, and queries, keys and values are read in place from the packed
//! projection `[B, T, 3D]` (leading dimension 3D), so no head is ever copied
//! out. Written with the unfused ops it would be
//! `softmax(causal_mask(q·kᵀ/√d))·v` over split heads, which is what the §4.2
//! model does and what the tests compare this op against.

use crate::autograd::Var;
use crate::kernels::Gemm;
use crate::ops::softmax::{softmax_row_backward, softmax_row_prefix};
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

/// One head attending from a block of query rows, every matrix read in place:
/// the heart of the op, shared by training (every row block of every sequence)
/// and by cached generation (the newest queries against the cached keys).
#[derive(Clone, Copy)]
struct HeadBlock {
    /// Query rows in the block, and the position of the first one.
    rows: usize,
    first: usize,
    /// Keys and values the block reads: positions `0..seen`.
    seen: usize,
    /// Width of one head.
    d: usize,
    /// Row lengths of the buffers holding Q, K and V, the weights A and the output O.
    ld_q: usize,
    ld_kv: usize,
    ld_a: usize,
    ld_out: usize,
    causal: bool,
}

impl HeadBlock {
    /// A = softmax(QKᵀ/√d + M) into `a` (rows of `ld_a`, exact zeros past each
    /// row's last visible key) and O = A·V into `out`.
    fn forward<E: Float>(&self, q: &[E], k: &[E], v: &[E], a: &mut [E], out: &mut [E]) {
        let scale = E::from_f64(1.0 / (self.d as f64).sqrt());
        // S = Q·Kᵀ/√d for these rows, against the `seen` keys only
        let scores = Gemm::new(self.rows, self.seen, self.d)
            .alpha(scale)
            .lda(self.ld_q)
            .transpose_b()
            .ldb(self.ld_kv)
            .ldc(self.ld_a);
        E::gemm(&scores, q, k, a);
        for (i, row) in a.chunks_mut(self.ld_a).take(self.rows).enumerate() {
            // the mask: the query at position first + i keeps keys 0..=first + i,
            // and every later weight is an exact zero
            let keep = if self.causal {
                self.first + i + 1
            } else {
                self.seen
            };
            softmax_row_prefix(row, keep);
        }
        // O = A·V for these rows
        let mix = Gemm::new(self.rows, self.d, self.seen)
            .lda(self.ld_a)
            .ldb(self.ld_kv)
            .ldc(self.ld_out);
        E::gemm(&mix, a, v, out);
    }

    /// The backward pass of [`HeadBlock::forward`] for this block, given its
    /// weights `a` and the output's gradient `d_o`: adds dQ, dK and dV into `gx`,
    /// which is laid out as the packed input `x` (this head's Q, K and V start at
    /// `at.0`, `at.1`, `at.2`). `da` and `ds` are scratch of `rows × ld_a`, for dA and dS.
    ///
    /// dV += Aᵀ·dO,  dA = dO·Vᵀ,  dS = A ⊙ (dA − rowsum(dA ⊙ A)),  dQ += dS·K/√d,  dK += dSᵀ·Q/√d.
    fn backward<E: Float>(
        &self,
        x: &[E],
        at: (usize, usize, usize),
        (a, d_o): (&[E], &[E]),
        gx: &mut [E],
        (da, ds): (&mut [E], &mut [E]),
    ) {
        let (oq, ok, ov) = (at.0 + self.first * self.ld_q, at.1, at.2);
        let scale = E::from_f64(1.0 / (self.d as f64).sqrt());
        // dV += Aᵀ·dO
        let dv = Gemm::new(self.seen, self.d, self.rows)
            .beta(E::ONE)
            .transpose_a()
            .lda(self.ld_a)
            .ldb(self.ld_out)
            .ldc(self.ld_kv);
        E::gemm(&dv, a, d_o, &mut gx[ov..]);
        // dA = dO·Vᵀ, then back through the softmax of each row's kept columns
        let d_a = Gemm::new(self.rows, self.seen, self.d)
            .lda(self.ld_out)
            .transpose_b()
            .ldb(self.ld_kv)
            .ldc(self.ld_a);
        E::gemm(&d_a, d_o, &x[ov..], da);
        let rows = a
            .chunks(self.ld_a)
            .zip(da.chunks(self.ld_a))
            .zip(ds.chunks_mut(self.ld_a));
        for (i, ((ar, dar), dsr)) in rows.take(self.rows).enumerate() {
            let keep = if self.causal {
                self.first + i + 1
            } else {
                self.seen
            };
            dsr[..self.seen].iter_mut().for_each(|v| *v = E::ZERO);
            softmax_row_backward(&ar[..keep], &dar[..keep], &mut dsr[..keep]);
        }
        // dQ += dS·K/√d
        let dq = Gemm::new(self.rows, self.d, self.seen)
            .alpha(scale)
            .beta(E::ONE)
            .lda(self.ld_a)
            .ldb(self.ld_kv)
            .ldc(self.ld_q);
        E::gemm(&dq, ds, &x[ok..], &mut gx[oq..]);
        // dK += dSᵀ·Q/√d
        let dk = Gemm::new(self.seen, self.d, self.rows)
            .alpha(scale)
            .beta(E::ONE)
            .transpose_a()
            .lda(self.ld_a)
            .ldb(self.ld_q)
            .ldc(self.ld_kv);
        E::gemm(&dk, ds, &x[oq..], &mut gx[ok..]);
    }
}

/// The row blocks of every head of a `[B, T, 3D]` input (see [`row_blocks`]).
fn head_blocks(dims: Heads, causal: bool) -> impl Iterator<Item = HeadBlock> {
    let (t, ld) = (dims.t, 3 * dims.width());
    row_blocks(t, causal).map(move |(r0, r1, seen)| HeadBlock {
        rows: r1 - r0,
        first: r0,
        seen,
        d: dims.d,
        ld_q: ld,
        ld_kv: ld,
        ld_a: t,
        ld_out: dims.width(),
        causal,
    })
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
        let Heads { b, t, h, .. } = dims;
        let (width, ld) = (dims.width(), 3 * dims.width());
        // Every element is written below: each head fills its own columns.
        let mut out = scratch(b * t * width);
        let mut weights = scratch(b * h * t * t);
        let q = x.data();
        // ANCHOR: attention_forward
        for bi in 0..b {
            for hi in 0..h {
                let (oq, ok, ov) = dims.qkv(bi, hi);
                let a = &mut weights[dims.weights(bi, hi)..][..t * t];
                for block in head_blocks(dims, causal) {
                    let r0 = block.first;
                    let out = &mut out[dims.out(bi, hi) + r0 * width..];
                    block.forward(&q[oq + r0 * ld..], &q[ok..], &q[ov..], &mut a[r0 * t..], out);
                }
            }
        }
        // ANCHOR_END: attention_forward
        let weights = Tensor::from_vec([b, h, t, t], weights);
        let a_all = weights.clone();
        let ix = self.id;
        let y = self.g.op(
            "attention",
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
                        for block in head_blocks(dims, causal) {
                            let r0 = block.first;
                            let weights_and_grad = (&a[r0 * t..], &dy[dims.out(bi, hi) + r0 * width..]);
                            block.backward(q, (oq, ok, ov), weights_and_grad, gx, (&mut da[..], &mut ds[..]));
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

/// The op for generation with a key–value cache: the packed projections `qkv`
/// of the newest positions (`[rows, 3D]`, rows of the op's input, D = `width`)
/// attend to the positions cached in `keys` and `values` (each `[len, D]`,
/// heads side by side as in `qkv`, the newest `rows` positions last), each query seeing
/// the keys up to its own position. Returns the heads' outputs side by side,
/// `[rows, D]`: what the whole causal op computes at those positions, without
/// recomputing the positions before them. One row is a generation step; a
/// whole prompt at once is the prefill.
pub fn attention_cached<E: Float>(qkv: &[E], width: usize, keys: &[E], values: &[E], heads: usize) -> Vec<E> {
    let rows = qkv.len() / (3 * width.max(1));
    assert!(
        heads > 0
            && rows > 0
            && width > 0
            && qkv.len() == 3 * width * rows
            && width.is_multiple_of(heads)
            && keys.len() == values.len()
            && keys.len().is_multiple_of(width)
            && keys.len() / width >= rows,
        "attention_cached: {} projections of width {width} for {heads} heads with {} keys and {} values cached",
        qkv.len(),
        keys.len(),
        values.len()
    );
    let (d, len) = (width / heads, keys.len() / width);
    let mut out = vec![E::ZERO; rows * width];
    let mut a = vec![E::ZERO; rows * len];
    // The query rows are positions len − rows … len − 1: the mask lets the
    // last see all len cached keys, and each earlier one a key fewer.
    let block = HeadBlock {
        rows,
        first: len - rows,
        seen: len,
        d,
        ld_q: 3 * width,
        ld_kv: width,
        ld_a: len,
        ld_out: width,
        causal: true,
    };
    for hi in 0..heads {
        let head = hi * d;
        block.forward(
            &qkv[head..],
            &keys[head..],
            &values[head..],
            &mut a,
            &mut out[head..],
        );
    }
    out
}
