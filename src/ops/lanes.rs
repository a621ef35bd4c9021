//! Row reductions the compiler can vectorise, and the gradient accumulation
//! every backward pass uses.
//!
//! Floating-point addition is not associative, so a single running sum must be
//! added one element after another. Keeping eight partial sums instead lets the
//! compiler hold them in one vector register. The results differ from a single
//! running sum in the last bits only.

use crate::tensor::Float;

// ANCHOR: sum_lanes
/// Σ xᵢ in eight interleaved partial sums, so that the compiler can keep them
/// in one vector register (a single running sum forces one add at a time).
#[inline(always)]
pub(crate) fn sum_lanes<E: Float>(xs: &[E]) -> E {
    let mut acc = [E::ZERO; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            acc[j] += c[j];
        }
    }
    acc.into_iter().chain(tail.iter().copied()).sum()
}
// ANCHOR_END: sum_lanes

/// Σ xᵢ·yᵢ over the common length, with the same eight partial sums.
#[inline(always)]
pub(crate) fn dot_lanes<E: Float>(xs: &[E], ys: &[E]) -> E {
    let n = xs.len().min(ys.len());
    let (xs, ys) = (&xs[..n], &ys[..n]);
    sum_by_lanes(n, |i| xs[i] * ys[i])
}

/// Σᵢ f(i) for i in 0..n, with the same eight partial sums as [`sum_lanes`]
/// (for sums of a few rows combined element by element).
#[inline(always)]
pub(crate) fn sum_by_lanes<E: Float>(n: usize, f: impl Fn(usize) -> E) -> E {
    let mut acc = [E::ZERO; 8];
    let full = n - n % 8;
    for i in (0..full).step_by(8) {
        for j in 0..8 {
            acc[j] += f(i + j);
        }
    }
    acc.into_iter().chain((full..n).map(f)).sum()
}

/// maxᵢ xᵢ (−∞ for an empty row), with eight partial maxima.
#[inline(always)]
pub(crate) fn max_lanes<E: Float>(xs: &[E]) -> E {
    let mut acc = [E::NEG_INFINITY; 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            acc[j] = acc[j].max(c[j]);
        }
    }
    acc.into_iter()
        .chain(tail.iter().copied())
        .fold(E::NEG_INFINITY, E::max)
}

/// dst += src, element by element (the two slices have the same length): how
/// a backward pass adds its contribution into a gradient buffer.
#[inline(always)]
pub(crate) fn add_into<E: Float>(dst: &mut [E], src: &[E]) {
    debug_assert_eq!(dst.len(), src.len());
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}
