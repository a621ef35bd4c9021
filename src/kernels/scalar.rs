//! The portable microkernel: a 4×8 tile of C in plain Rust, for any CPU.
//!
//! It has the same shape as the SIMD kernels (a register tile updated by one
//! column of A times one row of B per step of k), written with arrays instead of
//! intrinsics. The tile is small enough for the 16 registers of baseline x86-64
//! (SSE2) or any 64-bit ARM core, and the compiler vectorizes the 8-wide rows on
//! its own. It is the reference point that shows what the explicit kernels gain,
//! and the fallback on machines without AVX2 or NEON.
//!
//! Block sizes: the same cache reasoning as the AVX2 kernel (`KC·NR·4 B = 8 KiB`
//! of B panel in L1, `MC·KC·4 B = 128 KiB` of A block in L2).

use super::driver::{MicroKernel, Tile, a_rows};

/// The portable microkernel (see the module doc).
pub(super) struct Scalar;

const MR: usize = 4;
const NR: usize = 8;

impl MicroKernel for Scalar {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    const MC: usize = 128;
    const NC: usize = 4096;

    #[inline]
    unsafe fn tile<const A_LAYOUT: u8>(t: &Tile) {
        let (row, cs_a) = a_rows::<A_LAYOUT, MR>(t);
        let mut acc = [[0.0f32; NR]; MR];
        for p in 0..t.k {
            // SAFETY: B is a packed panel of k rows of NR values; A has k columns
            // at stride cs_a and the rows in `row` (see `Tile`).
            let (a_col, b_row) = unsafe {
                let b_row = &*(t.b.add(p * NR) as *const [f32; NR]);
                let a_col: [f32; MR] = std::array::from_fn(|i| *t.a.add(p * cs_a + row[i]));
                (a_col, b_row)
            };
            // A separate multiply and add: `mul_add` would be a slow library call on
            // a CPU without FMA, which is exactly where this kernel runs.
            for i in 0..MR {
                for j in 0..NR {
                    acc[i][j] += a_col[i] * b_row[j];
                }
            }
        }
        for (i, acc_row) in acc.iter().enumerate().take(t.mr) {
            // SAFETY: row i < mr and columns < nr of the tile are C's to write.
            let c = unsafe { std::slice::from_raw_parts_mut(t.c.add(i * t.ldc), t.nr) };
            for (cv, &v) in c.iter_mut().zip(acc_row) {
                *cv = if t.beta == 0.0 {
                    t.alpha * v
                } else {
                    t.alpha * v + t.beta * *cv
                };
            }
        }
    }
}
