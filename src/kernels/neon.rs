//! The aarch64 NEON microkernel: an 8×12 tile of C in 24 `q` registers.
//!
//! The same design as the AVX2 kernel on ARM's 128-bit vectors. A `q` register
//! holds 4 floats and aarch64 has 32 of them. Each of the 8 rows of the tile is
//! three registers (12 columns), 24 accumulators in all; one step of k loads three
//! vectors of B, broadcasts 8 values of A (`ld1r`) and issues 24 FMAs (`fmla`),
//! using 24 + 3 + 1 = 28 registers:
//!
//! ```text
//!              b0      b1      b2      (4 lanes each)
//!   a[0] ×   [ acc[0][0] | acc[0][1] | acc[0][2] ]
//!    …                 …
//!   a[7] ×   [ acc[7][0] | acc[7][1] | acc[7][2] ]
//! ```
//!
//! Current ARM cores (Apple M-series, Neoverse N1/V1/V2) issue 2 to 4 FMAs per
//! cycle with a latency of about 4 cycles, so they need 8 to 16 independent
//! accumulators; 24 covers all of them.
//!
//! ## Block sizes (typical: L1d 64 KiB, L2 1 MiB per core)
//!
//! * `KC = 256`: the B panel is 256 × 12 × 4 B = 12 KiB and the A panel
//!   8 × 256 × 4 B = 8 KiB, a third of a 64 KiB L1d.
//! * `MC = 256`: the packed A block is 256 × 256 × 4 B = 256 KiB, a quarter of L2.
//! * `NC = 4092` (a multiple of 12): the B block is at most 4 MiB.
//!
//! ## Edges
//! NEON has no masked store, so a partial tile (fewer than 8 rows or 12 columns)
//! is computed in full into a small buffer on the stack and its live corner is
//! copied to C. Full tiles, the vast majority, are stored directly.
//!
//! This kernel has not been compiled or run on the machine it was written on (an
//! x86-64 host without an aarch64 toolchain); see the README's "Matrix kernels".

use super::driver::{MicroKernel, Tile, a_rows};
use std::arch::aarch64::*;

/// The NEON microkernel (see the module doc).
pub(super) struct Neon;

const MR: usize = 8;
const NR: usize = 12;

impl MicroKernel for Neon {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    const MC: usize = 256;
    const NC: usize = 4092;

    #[inline]
    unsafe fn tile<const A_LAYOUT: u8>(t: &Tile) {
        // SAFETY: NEON is part of every aarch64 CPU; the caller guarantees valid
        // pointers, as `tile_8x12` requires.
        unsafe { tile_8x12::<A_LAYOUT>(t) }
    }
}

/// `C[..mr, ..nr] = alpha·A·B + beta·C` for one 8×12 tile (contract: [`Tile`]).
///
/// # Safety
/// `t`'s pointers are valid as described on [`Tile`].
#[target_feature(enable = "neon")]
unsafe fn tile_8x12<const A_LAYOUT: u8>(t: &Tile) {
    let (row, cs_a) = a_rows::<A_LAYOUT, MR>(t);

    let mut acc = [[vdupq_n_f32(0.0); 3]; MR];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.k {
        // SAFETY: B is a packed panel of k rows of 12 values; A has k columns at
        // stride cs_a and the rows in `row` (see `Tile`).
        unsafe {
            let bv = [vld1q_f32(b), vld1q_f32(b.add(4)), vld1q_f32(b.add(8))];
            for i in 0..MR {
                let ai = vld1q_dup_f32(a.add(row[i]));
                for (acc_ij, &bj) in acc[i].iter_mut().zip(&bv) {
                    *acc_ij = vfmaq_f32(*acc_ij, ai, bj);
                }
            }
            a = a.wrapping_add(cs_a);
            b = b.wrapping_add(NR);
        }
    }

    let full = t.mr == MR && t.nr == NR;
    // A partial tile goes through this buffer: first the old C (when beta needs
    // it), then the result, and only the live corner is copied back.
    let mut spill = [0.0f32; MR * NR];
    if !full && t.beta != 0.0 {
        for i in 0..t.mr {
            // SAFETY: row i < mr, columns < nr of the tile are readable.
            let src = unsafe { std::slice::from_raw_parts(t.c.add(i * t.ldc), t.nr) };
            spill[i * NR..i * NR + t.nr].copy_from_slice(src);
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        let dst = if full {
            // SAFETY: a full tile: row i and its 12 columns are inside C.
            unsafe { t.c.add(i * t.ldc) }
        } else {
            spill[i * NR..].as_mut_ptr()
        };
        for (h, &v) in acc_row.iter().enumerate() {
            // SAFETY: dst + 4h .. dst + 4h + 4 is inside the row (of C or `spill`).
            unsafe {
                let mut out = vmulq_n_f32(v, t.alpha);
                if t.beta != 0.0 {
                    out = vfmaq_n_f32(out, vld1q_f32(dst.add(4 * h)), t.beta);
                }
                vst1q_f32(dst.add(4 * h), out);
            }
        }
    }
    if !full {
        for i in 0..t.mr {
            // SAFETY: row i < mr, columns < nr of the tile are writable.
            let dst = unsafe { std::slice::from_raw_parts_mut(t.c.add(i * t.ldc), t.nr) };
            dst.copy_from_slice(&spill[i * NR..i * NR + t.nr]);
        }
    }
}
