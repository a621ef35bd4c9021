//! Softmax, log-softmax and cross-entropy over the last axis, and the causal mask.

use crate::autograd::Var;
use crate::ops::lanes::{dot_lanes, max_lanes, sum_by_lanes, sum_lanes};
use crate::tensor::{Float, Tensor, copied, scratch};

/// softmax of one row, in place: subtract the max so `exp` cannot overflow.
/// A row that is entirely −∞ (nothing to attend to) becomes all zeros, not NaN.
pub(crate) fn softmax_row<E: Float>(row: &mut [E]) {
    let n = row.len();
    softmax_row_prefix(row, n);
}

/// softmax of the first `keep` values of a row, in place, and exact zeros
/// after them (a row of attention weights under the causal mask), the max
/// subtracted first so that `exp` cannot overflow; kept values that are all
/// −∞ (nothing to attend to) become zeros, not NaN. The exponentials run over whole
/// groups of eight as far as the row has room, so that the last, partial group
/// of the kept values is computed with vector instructions too (its values past
/// `keep` are then overwritten by the zeros): causal rows are short, and one
/// value at a time their tails cost as much as the rest.
pub(crate) fn softmax_row_prefix<E: Float>(row: &mut [E], keep: usize) {
    const LANES: usize = 8;
    let m = max_lanes(&row[..keep]);
    if m == E::NEG_INFINITY {
        row.iter_mut().for_each(|v| *v = E::ZERO);
        return;
    }
    let covered = (keep.div_ceil(LANES) * LANES).min(row.len());
    row[..covered].iter_mut().for_each(|v| *v = (*v - m).exp());
    row[keep..].iter_mut().for_each(|v| *v = E::ZERO);
    let kept = &mut row[..keep];
    let inv = E::ONE / sum_lanes(kept);
    kept.iter_mut().for_each(|v| *v *= inv);
}

/// The row's maximum m and log Σ exp(row − m): log-sum-exp = m + that, kept
/// apart so callers can subtract m from xᵢ first and lose no precision.
pub(crate) fn max_and_log_sum<E: Float>(row: &[E]) -> (E, E) {
    let m = max_lanes(row);
    if m == E::NEG_INFINITY {
        return (m, E::ZERO);
    }
    (m, sum_by_lanes(row.len(), |i| (row[i] - m).exp()).ln())
}

/// Backward of softmax for one row: dx = y ⊙ (dy − Σ dy⊙y).
pub(crate) fn softmax_row_backward<E: Float>(y: &[E], dy: &[E], dx: &mut [E]) {
    let dot = dot_lanes(y, dy);
    for ((g, &y), &d) in dx.iter_mut().zip(y).zip(dy) {
        *g += y * (d - dot);
    }
}

impl<'g, E: Float> Var<'g, E> {
    /// softmax over the last axis: yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ}.
    /// Backward: dx = y ⊙ (dy − Σ dy⊙y), row by row.
    pub fn softmax(self) -> Var<'g, E> {
        let x = self.value();
        let n = x.shape().last();
        let mut y = copied(x.data());
        y.chunks_mut(n).for_each(softmax_row);
        let y = Tensor::from_vec(x.shape(), y);
        let yv = y.clone();
        let ix = self.id;
        self.g.op(
            "softmax",
            y,
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    for ((y, d), g) in yv.data().chunks(n).zip(dy.data().chunks(n)).zip(gx.chunks_mut(n)) {
                        softmax_row_backward(y, d, g);
                    }
                }
            }),
        )
    }

    /// log-softmax over the last axis: yᵢ = xᵢ − log Σⱼ e^{xⱼ}.
    /// Backward: dx = dy − softmax(x)·Σ dy, row by row.
    pub fn log_softmax(self) -> Var<'g, E> {
        let x = self.value();
        let n = x.shape().last();
        let mut y = copied(x.data());
        for row in y.chunks_mut(n) {
            let (m, log_sum) = max_and_log_sum(row);
            row.iter_mut().for_each(|v| *v = (*v - m) - log_sum);
        }
        let y = Tensor::from_vec(x.shape(), y);
        let yv = y.clone();
        let ix = self.id;
        self.g.op(
            "log_softmax",
            y,
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    for ((y, d), g) in yv.data().chunks(n).zip(dy.data().chunks(n)).zip(gx.chunks_mut(n)) {
                        let total = sum_lanes(d);
                        for ((g, &y), &d) in g.iter_mut().zip(y).zip(d) {
                            *g += d - y.exp() * total;
                        }
                    }
                }
            }),
        )
    }

    // ANCHOR: cross_entropy
    /// Cross-entropy of logits `[…, V]` against integer targets (one per row),
    /// averaged over rows: L = (1/N) Σ_rows (log Σⱼ e^{zⱼ} − z_target).
    /// Fused and stable. Backward: dz = (softmax(z) − onehot(target)) / N.
    pub fn cross_entropy(self, targets: &[usize]) -> Var<'g, E> {
        let z = self.value();
        let shape = z.shape();
        let (rows, v) = (shape.rows(), shape.last());
        assert!(
            shape.rank() >= 1 && targets.len() == rows,
            "cross_entropy: logits {shape} have {rows} rows but {} targets were given",
            targets.len()
        );
        if let Some((pos, &t)) = targets.iter().enumerate().find(|(_, t)| **t >= v) {
            panic!("cross_entropy: target {t} at position {pos} is out of range for {v} classes");
        }
        // Forward keeps the probabilities: the backward pass is then one subtraction.
        // (A tensor, so that its buffer returns to the pool with the graph.)
        let mut probs = scratch(z.numel());
        let mut total = 0.0f64;
        for ((zr, pr), &t) in z.data().chunks(v).zip(probs.chunks_mut(v)).zip(targets) {
            // pᵢ = exp(zᵢ − m) / Σⱼ exp(zⱼ − m), m the row's maximum;
            // the row's loss is log Σⱼ exp(zⱼ − m) − (z_target − m).
            let m = max_lanes(zr);
            pr.iter_mut().zip(zr).for_each(|(p, &x)| *p = (x - m).exp());
            let sum = sum_lanes(pr);
            total += (sum.ln() - (zr[t] - m)).to_f64();
            let inv = sum.recip();
            pr.iter_mut().for_each(|p| *p *= inv);
        }
        let probs = Tensor::from_vec(shape, probs);
        let inv_n = E::from_f64(1.0 / rows.max(1) as f64);
        let targets = targets.to_vec();
        let iz = self.id;
        self.g.op(
            "cross_entropy",
            Tensor::scalar(E::from_f64(total / rows.max(1) as f64)),
            &[self],
            Box::new(move |dy, grads| {
                let scale = dy.item() * inv_n;
                if let Some((gz, beta)) = grads.slot_beta(iz) {
                    for ((g, p), &t) in gz.chunks_mut(v).zip(probs.data().chunks(v)).zip(&targets) {
                        // Written on the first gradient to reach z (β = 0), added after.
                        if beta == E::ZERO {
                            g.iter_mut().zip(p).for_each(|(g, &p)| *g = p * scale);
                        } else {
                            g.iter_mut().zip(p).for_each(|(g, &p)| *g += p * scale);
                        }
                        g[t] -= scale;
                    }
                }
            }),
        )
    }
    // ANCHOR_END: cross_entropy

    /// The causal mask on attention scores `[…, T_q, T_k]`: entry (i, j) becomes
    /// −∞ when key j lies in the future of query i, i.e. j > i + `offset`
    /// (`offset` = number of earlier positions already cached; 0 in training).
    /// Backward: the gradient passes where the mask is open and is 0 where it is closed.
    pub fn causal_mask(self, offset: usize) -> Var<'g, E> {
        let x = self.value();
        let shape = x.shape();
        assert!(
            shape.rank() >= 2,
            "causal_mask: scores must be [.., T_q, T_k], got {shape}"
        );
        let d = shape.dims();
        let (tq, tk) = (d[d.len() - 2], d[d.len() - 1]);
        let mut y = copied(x.data());
        for block in y.chunks_mut(tq * tk) {
            for (i, row) in block.chunks_mut(tk).enumerate() {
                row.iter_mut()
                    .skip(i + offset + 1)
                    .for_each(|v| *v = E::NEG_INFINITY);
            }
        }
        let ix = self.id;
        self.g.op(
            "causal_mask",
            Tensor::from_vec(shape, y),
            &[self],
            Box::new(move |dy, grads| {
                if let Some(gx) = grads.slot(ix) {
                    for (gb, db) in gx.chunks_mut(tq * tk).zip(dy.data().chunks(tq * tk)) {
                        for (i, (g, d)) in gb.chunks_mut(tk).zip(db.chunks(tk)).enumerate() {
                            let open = (i + offset + 1).min(tk);
                            for (g, &d) in g[..open].iter_mut().zip(&d[..open]) {
                                *g += d;
                            }
                        }
                    }
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kept length of rows 1 to 20 long (whole and partial groups of
    /// eight, rows ending inside a group): the kept values are e^{xᵢ} / Σ e^{xⱼ}
    /// computed in f64 by a plain loop, bit for bit what `softmax_row` gives on
    /// the kept part, and every value after them an exact +0.
    #[test]
    fn softmax_of_a_row_prefix_matches_a_plain_loop_and_zeros_the_rest() {
        for len in 1..=20 {
            for keep in 1..=len {
                let row: Vec<f32> = (0..len).map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.7).collect();
                let mut got = row.clone();
                softmax_row_prefix(&mut got, keep);
                let total: f64 = row[..keep].iter().map(|&x| (x as f64).exp()).sum();
                for i in 0..keep {
                    let want = (row[i] as f64).exp() / total;
                    assert!(
                        (got[i] as f64 - want).abs() <= 1e-6 * want.max(1e-30),
                        "len {len}, keep {keep}: weight {i} = {}, expected {want}",
                        got[i]
                    );
                }
                assert!(
                    got[keep..].iter().all(|v| v.to_bits() == 0),
                    "len {len}, keep {keep}: {:?} after the kept values",
                    &got[keep..]
                );
                let mut alone = row[..keep].to_vec();
                softmax_row(&mut alone);
                assert_eq!(
                    got[..keep].iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    alone.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "len {len}, keep {keep}"
                );
            }
        }
    }
}
