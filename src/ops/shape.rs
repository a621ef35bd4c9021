//! Operations that move numbers without changing them: reshape, transpose,
//! splitting and merging attention heads, slicing and concatenating.

use crate::autograd::Var;
use crate::ops::lanes::add_into;
use crate::tensor::{Float, Shape, Tensor, scratch};

/// Copies (or, with `add`, accumulates) `[rows, cols]` blocks of `src` into their
/// transposes `[cols, rows]` in `dst`, for every leading index.
fn transpose_blocks<E: Float>(src: &[E], dst: &mut [E], rows: usize, cols: usize, add: bool) {
    for (s, d) in src.chunks(rows * cols).zip(dst.chunks_mut(rows * cols)) {
        for i in 0..rows {
            for j in 0..cols {
                if add {
                    d[j * rows + i] += s[i * cols + j];
                } else {
                    d[j * rows + i] = s[i * cols + j];
                }
            }
        }
    }
}

/// Moves `[B, T, H, d]` (heads side by side) to `[B, H, T, d]` (heads apart), or
/// back with `to_heads = false`; accumulates into `dst` when `add`.
fn permute_heads<E: Float>(src: &[E], dst: &mut [E], [b, t, h, d]: [usize; 4], to_heads: bool, add: bool) {
    for bi in 0..b {
        for ti in 0..t {
            for hi in 0..h {
                let packed = ((bi * t + ti) * h + hi) * d; // [B, T, H, d]
                let split = ((bi * h + hi) * t + ti) * d; // [B, H, T, d]
                let (from, to) = if to_heads {
                    (packed, split)
                } else {
                    (split, packed)
                };
                let (s, o) = (&src[from..from + d], &mut dst[to..to + d]);
                if add {
                    add_into(o, s);
                } else {
                    o.copy_from_slice(s);
                }
            }
        }
    }
}

impl<'g, E: Float> Var<'g, E> {
    /// The same numbers under a new shape, without copying.
    /// Backward: the gradient is reshaped back.
    pub fn reshape(self, shape: impl Into<Shape>) -> Var<'g, E> {
        // Tensor::reshape checks that the element counts agree.
        let y = self.value().reshape(shape);
        let ix = self.id;
        self.g.op(
            "reshape",
            y,
            &[self],
            Box::new(move |dy, grads| grads.add(ix, dy.data())),
        )
    }

    /// Swaps the last two axes: `[…, m, n]` → `[…, n, m]`.
    /// Backward: the gradient is transposed back.
    pub fn transpose(self) -> Var<'g, E> {
        let x = self.value();
        let s = x.shape();
        assert!(s.rank() >= 2, "transpose: needs at least 2 axes, got {s}");
        let (m, n) = (s.dims()[s.rank() - 2], s.dims()[s.rank() - 1]);
        let mut y = scratch(x.numel());
        transpose_blocks(x.data(), &mut y, m, n, false);
        let out_shape = s.with_dim(s.rank() - 2, n).with_dim(s.rank() - 1, m);
        let ix = self.id;
        self.g.op(
            "transpose",
            Tensor::from_vec(out_shape, y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    transpose_blocks(dy.data(), gx, n, m, true);
                }
            }),
        )
    }

    /// Splits the last axis into `h` heads and moves them before time:
    /// `[B, T, h·d]` → `[B, h, T, d]`. Backward: [`Var::merge_heads`] of the gradient.
    pub fn split_heads(self, h: usize) -> Var<'g, E> {
        let x = self.value();
        let s = x.shape();
        assert!(
            s.rank() == 3 && h > 0 && s.dims()[2].is_multiple_of(h),
            "split_heads: expected [B, T, H·d] with H = {h} dividing the last axis, got {s}"
        );
        let (b, t, d) = (s.dims()[0], s.dims()[1], s.dims()[2] / h);
        let mut y = scratch(x.numel());
        permute_heads(x.data(), &mut y, [b, t, h, d], true, false);
        let ix = self.id;
        self.g.op(
            "split_heads",
            Tensor::from_vec([b, h, t, d], y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    permute_heads(dy.data(), gx, [b, t, h, d], false, true);
                }
            }),
        )
    }

    /// Joins heads back: `[B, h, T, d]` → `[B, T, h·d]`.
    /// Backward: [`Var::split_heads`] of the gradient.
    pub fn merge_heads(self) -> Var<'g, E> {
        let x = self.value();
        let s = x.shape();
        assert!(s.rank() == 4, "merge_heads: expected [B, H, T, d], got {s}");
        let (b, h, t, d) = (s.dims()[0], s.dims()[1], s.dims()[2], s.dims()[3]);
        let mut y = scratch(x.numel());
        permute_heads(x.data(), &mut y, [b, t, h, d], false, false);
        let ix = self.id;
        self.g.op(
            "merge_heads",
            Tensor::from_vec([b, t, h * d], y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    permute_heads(dy.data(), gx, [b, t, h, d], true, true);
                }
            }),
        )
    }

    /// Elements `start..end` along `axis` (for `[B, T, D]` and axis 1: a window
    /// of time steps). Backward: the gradient lands in that window, zeros elsewhere.
    pub fn slice(self, axis: usize, start: usize, end: usize) -> Var<'g, E> {
        let x = self.value();
        let s = x.shape();
        assert!(
            axis < s.rank() && start < end && end <= s.dims()[axis],
            "slice: range {start}..{end} on axis {axis} is out of bounds for shape {s}"
        );
        let (outer, size, inner) = s.around(axis);
        let len = end - start;
        let mut y = scratch(outer * len * inner);
        for (o, chunk) in y.chunks_mut(len * inner).enumerate() {
            let base = (o * size + start) * inner;
            chunk.copy_from_slice(&x.data()[base..base + len * inner]);
        }
        let ix = self.id;
        self.g.op(
            "slice",
            Tensor::from_vec(s.with_dim(axis, len), y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    for (o, d) in dy.data().chunks(len * inner).enumerate() {
                        let base = (o * size + start) * inner;
                        add_into(&mut gx[base..base + len * inner], d);
                    }
                }
            }),
        )
    }

    /// Joins values along `axis`; all other dimensions must agree.
    /// Backward: each input receives its own window of the gradient.
    pub fn concat(parts: &[Var<'g, E>], axis: usize) -> Var<'g, E> {
        assert!(!parts.is_empty(), "concat: needs at least one input");
        let values: Vec<Tensor<E>> = parts.iter().map(|p| p.value()).collect();
        let first = values[0].shape();
        assert!(
            axis < first.rank(),
            "concat: axis {axis} is out of range for shape {first}"
        );
        for v in &values {
            assert!(
                v.rank() == first.rank()
                    && (0..first.rank()).all(|a| a == axis || v.dims()[a] == first.dims()[a]),
                "concat: shapes {} and {} differ outside axis {axis}",
                first,
                v.shape()
            );
        }
        let sizes: Vec<usize> = values.iter().map(|v| v.dims()[axis]).collect();
        let total: usize = sizes.iter().sum();
        let (outer, _, inner) = first.around(axis);
        let mut y = scratch(outer * total * inner);
        let mut at = 0;
        for o in 0..outer {
            for (v, &n) in values.iter().zip(&sizes) {
                y[at..at + n * inner].copy_from_slice(&v.data()[o * n * inner..(o + 1) * n * inner]);
                at += n * inner;
            }
        }
        let ids: Vec<usize> = parts.iter().map(|p| p.id).collect();
        parts[0].g.op(
            "concat",
            Tensor::from_vec(first.with_dim(axis, total), y),
            parts,
            Box::new(move |dy, grads| {
                let dy = dy.data();
                let mut offset = 0; // start of part p inside one outer block of dy
                for (&id, &n) in ids.iter().zip(&sizes) {
                    if let Some(g) = grads.slot(id) {
                        for o in 0..outer {
                            let src = &dy[(o * total + offset) * inner..(o * total + offset + n) * inner];
                            add_into(&mut g[o * n * inner..(o + 1) * n * inner], src);
                        }
                    }
                    offset += n;
                }
            }),
        )
    }
}
