//! Sinusoidal positional encoding, as in the original Transformer paper.

use crate::tensor::{Float, Tensor};

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
