//! Sinusoidal positional encoding, as in the original Transformer paper.

use crate::tensor::{Float, Tensor};
use std::sync::RwLock;

// ANCHOR: sinusoidal
/// The table p_pos for positions 0..`context` and width `dim` (even):
/// p(pos, 2i) = sin(pos / 10000^(2i/dim)), p(pos, 2i+1) = cos(pos / 10000^(2i/dim)).
/// Each pair of dimensions is a clock at its own frequency, so nearby positions
/// get similar vectors and any shift is a fixed rotation of each pair.
pub fn sinusoidal<E: Float>(context: usize, dim: usize) -> Tensor<E> {
    assert!(
        dim.is_multiple_of(2),
        "sinusoidal: the width must be even, got {dim}"
    );
    Tensor::from_fn([context, dim], |ix| {
        let (pos, j) = (ix[0] as f64, ix[1]);
        let angle = pos / 10000f64.powf((j - j % 2) as f64 / dim as f64);
        E::from_f64(if j % 2 == 0 { angle.sin() } else { angle.cos() })
    })
}
// ANCHOR_END: sinusoidal

/// A model's sinusoidal table, computed only as far as the model has read (and
/// never past its context): building a model, or loading one whose context is
/// long, costs nothing until it reads a long sequence. Its rows are exactly
/// those of [`sinusoidal`].
pub struct Positions<E: Float> {
    context: usize,
    dim: usize,
    /// `[len, dim]` for the positions computed so far.
    table: RwLock<Tensor<E>>,
}

impl<E: Float> Positions<E> {
    /// A table for positions `0..context` of width `dim` (even), none computed yet.
    pub fn new(context: usize, dim: usize) -> Self {
        assert!(
            dim.is_multiple_of(2),
            "sinusoidal: the width must be even, got {dim}"
        );
        Positions {
            context,
            dim,
            table: RwLock::new(Tensor::zeros([0, dim])),
        }
    }

    /// The longest sequence the table serves.
    pub fn context(&self) -> usize {
        self.context
    }

    /// p_0 … p_{time−1}, `[time, dim]`.
    ///
    /// # Panics
    /// If `time` is longer than the context.
    pub fn first(&self, time: usize) -> Tensor<E> {
        let data = self.rows(time);
        Tensor::from_slice([time, self.dim], &data.data()[..time * self.dim])
    }

    /// p_start … p_{end−1}, `[end − start, dim]` (the rows copied, as a cached
    /// prefill of several tokens needs).
    ///
    /// # Panics
    /// If `end` is past the context, or before `start`.
    pub fn span(&self, positions: std::ops::Range<usize>) -> Tensor<E> {
        assert!(
            positions.start <= positions.end,
            "positions: the span {positions:?} runs backwards"
        );
        let data = self.rows(positions.end);
        let rows = positions.len();
        Tensor::from_slice(
            [rows, self.dim],
            &data.data()[positions.start * self.dim..positions.end * self.dim],
        )
    }

    /// The whole table, `[context, dim]` (computing what is missing).
    pub fn all(&self) -> Tensor<E> {
        self.first(self.context)
    }

    /// The table with at least `time` rows: doubled (up to the context) when
    /// it is too short, so a growing sequence recomputes it only a few times.
    fn rows(&self, time: usize) -> Tensor<E> {
        // (The tensor's storage is shared: cloning it copies no numbers.)
        assert!(
            time <= self.context,
            "positions: {time} positions asked of a table for {}",
            self.context
        );
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        if table.dims()[0] >= time {
            return table.clone();
        }
        drop(table);
        let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
        let len = table.dims()[0];
        if len < time {
            *table = sinusoidal(time.max(2 * len).min(self.context), self.dim);
        }
        table.clone()
    }

    /// The same table in another float type: the numbers of this one, cast
    /// (all of them, computed here first), not recomputed in `F`.
    pub fn cast<F: Float>(&self) -> Positions<F> {
        Positions {
            context: self.context,
            dim: self.dim,
            table: RwLock::new(self.all().cast()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows as the formula gives them, in plain f64, whatever order they are asked in.
    #[test]
    fn positions_grow_on_demand_and_equal_the_formula() {
        let (context, dim) = (50, 6);
        let p = Positions::<f64>::new(context, dim);
        let formula = |pos: usize, j: usize| {
            let angle = pos as f64 / 10000f64.powf((j - j % 2) as f64 / dim as f64);
            if j.is_multiple_of(2) {
                angle.sin()
            } else {
                angle.cos()
            }
        };
        assert_eq!(p.table.read().unwrap().dims()[0], 0, "nothing computed at first");
        let first = p.first(3);
        assert_eq!(p.table.read().unwrap().dims()[0], 3);
        let row = p.span(20..21);
        assert_eq!(p.table.read().unwrap().dims()[0], 21);
        let all = p.all();
        assert_eq!(first.dims(), &[3, dim]);
        assert_eq!(row.dims(), &[1, dim]);
        for pos in 0..context {
            for j in 0..dim {
                assert_eq!(all.data()[pos * dim + j], formula(pos, j), "({pos}, {j})");
            }
        }
        assert_eq!(first.data(), &all.data()[..3 * dim]);
        assert_eq!(row.data(), &all.data()[20 * dim..21 * dim]);
        let span = p.span(7..12);
        assert_eq!(span.dims(), &[5, dim]);
        for (i, pos) in (7..12).enumerate() {
            for j in 0..dim {
                assert_eq!(span.data()[i * dim + j], formula(pos, j), "span ({pos}, {j})");
            }
        }
    }

    #[test]
    #[should_panic(expected = "positions: 51 positions asked of a table for 50")]
    fn a_position_past_the_context_is_refused() {
        Positions::<f32>::new(50, 4).span(50..51);
    }
}
