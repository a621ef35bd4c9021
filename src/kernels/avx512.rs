//! The AVX-512F microkernel: an 8×32 tile of C in sixteen `zmm` registers.
//!
//! The same design as the AVX2 kernel, twice as wide. A `zmm` register holds 16
//! floats and AVX-512 has 32 of them. Each of the 8 rows of the tile is two
//! registers (32 columns), 16 accumulators in all; one step of k loads two
//! vectors of B, broadcasts 8 values of A and issues 16 FMAs:
//!
//! ```text
//!              b0 (16 lanes)  b1 (16 lanes)
//!   a[0] ×   [ acc[0][0]   |  acc[0][1] ]
//!    …                 …
//!   a[7] ×   [ acc[7][0]   |  acc[7][1] ]
//! ```
//!
//! Server cores with two 512-bit FMA units and a 4-cycle latency need 8
//! independent accumulators; 16 leaves slack, and the 10 loads per 16 FMAs fit in
//! two load ports. Eight rows also keep the eight row offsets of an unpacked A in
//! general-purpose registers.
//!
//! ## Block sizes (the Xeon of the issue: L1d 48 KiB, L2 2 MiB per core)
//!
//! * `KC = 192`: the B panel is 192 × 32 × 4 B = 24 KiB, half of L1d, and the A
//!   panel 8 × 192 × 4 B = 6 KiB.
//! * `MC = 384`: the packed A block is 384 × 192 × 4 B = 288 KiB, a seventh of L2.
//! * `NC = 4096`: the packed B block is at most 192 × 4096 × 4 B = 3 MiB.
//!
//! ## Edges
//! Partial tiles skip rows past `mr` and mask columns past `nr` with AVX-512's
//! per-lane masks (`k` registers), which suppress both the load and the store.
//!
//! This kernel has not been run on the machine it was written on (an AMD Zen 3
//! without AVX-512); see the README's "Matrix kernels" section.

use super::driver::{MicroKernel, Tile, a_rows};
use std::arch::x86_64::*;

/// The AVX-512F microkernel (see the module doc).
pub(super) struct Avx512;

const MR: usize = 8;
const NR: usize = 32;

impl MicroKernel for Avx512 {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 192;
    const MC: usize = 384;
    const NC: usize = 4096;

    #[inline]
    unsafe fn tile<const A_LAYOUT: u8>(t: &Tile) {
        // SAFETY: the caller guarantees AVX-512F (Kernel::Avx512 is only run after
        // detecting it) and valid pointers, as `tile_8x32` requires.
        unsafe { tile_8x32::<A_LAYOUT>(t) }
    }
}

/// `C[..mr, ..nr] = alpha·A·B + beta·C` for one 8×32 tile (contract: [`Tile`]).
///
/// # Safety
/// AVX-512F is available; `t`'s pointers are valid as described on [`Tile`].
#[target_feature(enable = "avx512f")]
unsafe fn tile_8x32<const A_LAYOUT: u8>(t: &Tile) {
    let (row, cs_a) = a_rows::<A_LAYOUT, MR>(t);

    // Ask for the C tile now, so its loads and stores after the k loop do not
    // stall (a row of 32 floats spans at most three cache lines).
    for i in 0..t.mr {
        let c = t.c.wrapping_add(i * t.ldc) as *const i8;
        for line in [0, 64, 127] {
            _mm_prefetch::<_MM_HINT_T0>(c.wrapping_add(line));
        }
    }

    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    // One step of k: two vectors of B, eight broadcasts of A, sixteen FMAs.
    let step = |acc: &mut [[__m512; 2]; MR], a: *const f32, b: *const f32, u: usize| {
        // SAFETY: B is a packed panel of k rows of 32 values; A has k columns at
        // stride cs_a and the rows in `row` (see `Tile`); the caller keeps u < k.
        unsafe {
            let b0 = _mm512_loadu_ps(b.add(u * NR));
            let b1 = _mm512_loadu_ps(b.add(u * NR + 16));
            for i in 0..MR {
                let ai = _mm512_set1_ps(*a.add(u * cs_a + row[i]));
                acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    };
    let (mut a, mut b) = (t.a, t.b);
    // Four steps per trip, as in the AVX2 kernel.
    for _ in 0..t.k / 4 {
        for u in 0..4 {
            step(&mut acc, a, b, u);
        }
        a = a.wrapping_add(4 * cs_a);
        b = b.wrapping_add(4 * NR);
    }
    for u in 0..t.k % 4 {
        step(&mut acc, a, b, u);
    }

    let alpha = _mm512_set1_ps(t.alpha);
    let beta = _mm512_set1_ps(t.beta);
    // One mask per half of a row: bit j is set when column 16h + j is live.
    let half_mask = |h: usize| -> __mmask16 {
        let live = t.nr.saturating_sub(16 * h).min(16);
        ((1u32 << live) - 1) as __mmask16
    };
    for (i, acc_row) in acc.iter().enumerate().take(t.mr) {
        // SAFETY: row i < mr of the tile.
        let c = unsafe { t.c.add(i * t.ldc) };
        for (h, &v) in acc_row.iter().enumerate() {
            if 16 * h >= t.nr {
                break; // this half of the row is entirely outside the tile
            }
            let mask = half_mask(h);
            // SAFETY: masked loads and stores touch only columns < nr of the
            // tile's row; masked-off lanes are not accessed at all.
            unsafe {
                let out = if t.beta == 0.0 {
                    _mm512_mul_ps(alpha, v)
                } else {
                    let old = _mm512_maskz_loadu_ps(mask, c.add(16 * h));
                    _mm512_fmadd_ps(beta, old, _mm512_mul_ps(alpha, v))
                };
                _mm512_mask_storeu_ps(c.add(16 * h), mask, out);
            }
        }
    }
}
