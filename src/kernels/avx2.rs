//! The AVX2 + FMA microkernel: a 6×16 tile of C in twelve `ymm` registers.
//!
//! ## The register tile
//!
//! A `ymm` register holds 8 floats and x86-64 has 16 of them. The tile is 6 rows
//! by 16 columns: each row of the tile is two registers, 12 accumulators in all.
//! One step of k loads two vectors of B (`b0`, `b1`: row p of the B panel) and, for
//! each of the 6 rows, broadcasts one value of A into a register and issues two
//! FMAs. That is 12 FMAs for 2 vector loads and 6 broadcast loads, using
//! 12 + 2 + 1 = 15 of the 16 registers:
//!
//! ```text
//!              b0 (8 lanes)   b1 (8 lanes)
//!   a[0] ×   [ acc[0][0]   |  acc[0][1] ]
//!   a[1] ×   [ acc[1][0]   |  acc[1][1] ]
//!    …                 …
//!   a[5] ×   [ acc[5][0]   |  acc[5][1] ]
//! ```
//!
//! Zen 3 (and Intel cores since Haswell) retire two 256-bit FMAs per cycle with a
//! latency of 4 cycles, so at least 2 × 4 = 8 independent accumulators are needed
//! to keep both pipes busy; 12 gives slack. The 8 loads per 12 FMAs fit in the two
//! or three load ports. The k loop is unrolled four times, which leaves fewer
//! pointer updates and loop branches per FMA, and the C tile is prefetched before
//! the loop, so that its loads and stores at the end find it in cache instead of
//! waiting for memory.
//!
//! ## Block sizes (Zen 3: L1d 32 KiB, L2 512 KiB per core, L3 32 MiB shared)
//!
//! * `KC = 256`: the B panel the microkernel re-reads for every A panel is
//!   256 × 16 × 4 B = 16 KiB, half of L1d; the A panel streaming past it is
//!   6 × 256 × 4 B = 6 KiB. Together they leave L1 room for C lines.
//! * `MC = 144` (24 tiles): the packed A block is 144 × 256 × 4 B = 144 KiB, under
//!   a third of L2, so it survives while B panels pass through.
//! * `NC = 4096`: the packed B block is at most 256 × 4096 × 4 B = 4 MiB per
//!   thread, an eighth of L3.
//!
//! ## Edges
//! Packing pads A and B with zeros, so the k loop never changes. Only the store
//! knows the tile is partial: rows past `mr` are skipped, and columns past `nr`
//! are masked off with `vmaskmovps`, which neither reads nor writes them.

use super::driver::{MicroKernel, Tile, a_rows};
use super::pack::{View, pack_b};
use std::arch::x86_64::*;
use std::ops::Range;

/// The AVX2 + FMA microkernel (see the module doc).
pub(super) struct Avx2;

const MR: usize = 6;
const NR: usize = 16;

impl MicroKernel for Avx2 {
    const MR: usize = MR;
    const NR: usize = NR;
    const KC: usize = 256;
    const MC: usize = 144;
    const NC: usize = 4096;

    #[inline]
    unsafe fn tile<const A_LAYOUT: u8>(t: &Tile) {
        // SAFETY: the caller guarantees AVX2 and FMA (Kernel::Avx2 is only run
        // after detecting them) and valid pointers, as `tile_6x16` requires.
        unsafe { tile_6x16::<A_LAYOUT>(t) }
    }

    #[inline(always)]
    unsafe fn pack_b(b: View, rows: Range<usize>, cols: Range<usize>, dst: &mut [f32]) {
        if b.cs == 1 {
            pack_b(NR, b, rows, cols, dst)
        } else {
            // SAFETY: the caller guarantees AVX2 (as for `tile`).
            unsafe { pack_b_transposed(b, rows, cols, dst) }
        }
    }
}

// ANCHOR: avx2_transpose
/// [`pack_b`] for a B stored transposed, where each column of op(B) is a
/// contiguous stored row: eight columns are read as eight vectors of eight
/// steps of k and turned into eight panel rows by an 8×8 transpose in
/// registers, instead of one scattered store per value. The columns and steps
/// left over at the edges are copied one value at a time, and the panel is
/// zero-padded past its last column, as [`pack_b`] does.
///
/// # Safety
/// AVX2 is available.
#[target_feature(enable = "avx2")]
unsafe fn pack_b_transposed(b: View, rows: Range<usize>, cols: Range<usize>, dst: &mut [f32]) {
    debug_assert_eq!(
        b.rs, 1,
        "pack_b_transposed: a B whose columns of op(B) are not contiguous"
    );
    let kc = rows.len();
    let panels = cols.len().div_ceil(NR);
    for (panel, out) in dst.chunks_exact_mut(NR * kc).take(panels).enumerate() {
        let j0 = cols.start + panel * NR;
        let live = NR.min(cols.end - j0);
        // Column j of op(B) from step rows.start on: kc contiguous values.
        let column = |j: usize| &b.data[(j0 + j) * b.cs + rows.start * b.rs..][..kc];
        let full = live / 8 * 8;
        for j in (0..full).step_by(8) {
            let src: [&[f32]; 8] = std::array::from_fn(|c| column(j + c));
            let squares = kc / 8 * 8;
            for p in (0..squares).step_by(8) {
                // SAFETY: each column has kc ≥ p + 8 values; the panel holds
                // rows p..p + 8 of NR ≥ j + 8 values each.
                unsafe {
                    let r: [__m256; 8] = std::array::from_fn(|c| _mm256_loadu_ps(src[c][p..p + 8].as_ptr()));
                    for (q, row) in transpose_8x8(r).into_iter().enumerate() {
                        _mm256_storeu_ps(out[(p + q) * NR + j..][..8].as_mut_ptr(), row);
                    }
                }
            }
            for p in squares..kc {
                for (c, col) in src.iter().enumerate() {
                    out[p * NR + j + c] = col[p];
                }
            }
        }
        for j in full..live {
            for (p, &v) in column(j).iter().enumerate() {
                out[p * NR + j] = v;
            }
        }
        if live < NR {
            for out_row in out.chunks_exact_mut(NR) {
                out_row[live..].fill(0.0);
            }
        }
    }
}

/// The 8×8 transpose of the rows `r`: row `q` of the result holds element `q`
/// of each row of `r`, in order. Pairs of rows are interleaved, then pairs of
/// pairs, then the 128-bit halves are exchanged.
#[target_feature(enable = "avx2")]
fn transpose_8x8(r: [__m256; 8]) -> [__m256; 8] {
    // t0 = r0₀ r1₀ r0₁ r1₁ | r0₄ r1₄ r0₅ r1₅, t1 = r0₂ r1₂ r0₃ r1₃ | r0₆ …, and so on.
    let t = [
        _mm256_unpacklo_ps(r[0], r[1]),
        _mm256_unpackhi_ps(r[0], r[1]),
        _mm256_unpacklo_ps(r[2], r[3]),
        _mm256_unpackhi_ps(r[2], r[3]),
        _mm256_unpacklo_ps(r[4], r[5]),
        _mm256_unpackhi_ps(r[4], r[5]),
        _mm256_unpacklo_ps(r[6], r[7]),
        _mm256_unpackhi_ps(r[6], r[7]),
    ];
    // s0 = element 0 of r0..r3 | element 4 of r0..r3, s1 = elements 1 | 5, …
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    // Element q of r0..r3 beside element q of r4..r7.
    [
        _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
        _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
    ]
}
// ANCHOR_END: avx2_transpose

/// Lanes `j` of the two halves of a row whose column `j` (or `8 + j`) is below
/// `nr`: all ones for a live lane, zero for a masked one.
#[target_feature(enable = "avx2,fma")]
fn column_masks(nr: usize) -> [__m256i; 2] {
    // 16 "on" lanes followed by 16 "off" lanes: a window starting at 16 - nr has
    // exactly its first nr lanes on.
    const WINDOW: [i32; 32] = {
        let mut w = [0; 32];
        let mut i = 0;
        while i < 16 {
            w[i] = -1;
            i += 1;
        }
        w
    };
    let start = NR - nr;
    let lanes = |h: usize| {
        let mut v = [0i32; 8];
        v.copy_from_slice(&WINDOW[start + 8 * h..start + 8 * h + 8]);
        _mm256_setr_epi32(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
    };
    [lanes(0), lanes(1)]
}

/// `C[..mr, ..nr] = alpha·A·B + beta·C` for one 6×16 tile (contract: [`Tile`]).
///
/// # Safety
/// AVX2 and FMA are available; `t`'s pointers are valid as described on [`Tile`].
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_6x16<const A_LAYOUT: u8>(t: &Tile) {
    // Offsets of the six rows of A, and its step along k. With a packed panel
    // both are constants and the six broadcasts become fixed offsets from one
    // pointer.
    let (row, cs_a) = a_rows::<A_LAYOUT, MR>(t);

    // Ask for the C tile now: it is only touched after the k loop, by which time
    // the lines have arrived instead of stalling the stores (a row of 16 floats
    // spans at most two cache lines).
    for i in 0..t.mr {
        let c = t.c.wrapping_add(i * t.ldc) as *const i8;
        _mm_prefetch::<_MM_HINT_T0>(c);
        _mm_prefetch::<_MM_HINT_T0>(c.wrapping_add(63));
    }

    // ANCHOR: avx2_k_loop
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    // One step of k: two vectors of B, six broadcasts of A, twelve FMAs.
    // `u` is the step's offset from the current position.
    let step = |acc: &mut [[__m256; 2]; MR], a: *const f32, b: *const f32, u: usize| {
        // SAFETY: B is a packed panel of k rows of 16 values; A has k columns at
        // stride cs_a and the rows in `row` (see `Tile`); the caller keeps u < k.
        unsafe {
            let b0 = _mm256_loadu_ps(b.add(u * NR));
            let b1 = _mm256_loadu_ps(b.add(u * NR + 8));
            for i in 0..MR {
                let ai = _mm256_broadcast_ss(&*a.add(u * cs_a + row[i]));
                acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
            }
        }
    };
    let (mut a, mut b) = (t.a, t.b);
    // Four steps per trip: fewer pointer updates and branches per FMA.
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
    // ANCHOR_END: avx2_k_loop

    let alpha = _mm256_set1_ps(t.alpha);
    let beta = _mm256_set1_ps(t.beta);
    if t.nr == NR {
        for (i, acc_row) in acc.iter().enumerate().take(t.mr) {
            // SAFETY: row i < mr of the tile; all 16 columns are live.
            let c = unsafe { t.c.add(i * t.ldc) };
            for (h, &v) in acc_row.iter().enumerate() {
                // SAFETY: c + 8h .. c + 8h + 8 lies in the tile's row.
                unsafe {
                    let out = if t.beta == 0.0 {
                        _mm256_mul_ps(alpha, v)
                    } else {
                        _mm256_fmadd_ps(beta, _mm256_loadu_ps(c.add(8 * h)), _mm256_mul_ps(alpha, v))
                    };
                    _mm256_storeu_ps(c.add(8 * h), out);
                }
            }
        }
    } else {
        let mask = column_masks(t.nr);
        for (i, acc_row) in acc.iter().enumerate().take(t.mr) {
            // SAFETY: row i < mr of the tile.
            let c = unsafe { t.c.add(i * t.ldc) };
            for (h, &v) in acc_row.iter().enumerate() {
                if 8 * h >= t.nr {
                    break; // this half of the row is entirely outside the tile
                }
                // SAFETY: masked loads and stores touch only columns < nr of the
                // tile's row; masked-off lanes are not accessed at all.
                unsafe {
                    let out = if t.beta == 0.0 {
                        _mm256_mul_ps(alpha, v)
                    } else {
                        let old = _mm256_maskload_ps(c.add(8 * h), mask[h]);
                        _mm256_fmadd_ps(beta, old, _mm256_mul_ps(alpha, v))
                    };
                    _mm256_maskstore_ps(c.add(8 * h), mask[h], out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector transpose fills the panels exactly as the portable copy does,
    /// padding included: every value written (the buffers start as NaN), whole
    /// and partial groups of 8 columns and of 8 steps, blocks of k that start
    /// past the first row, padded rows.
    #[test]
    fn the_transposed_pack_equals_the_portable_one_bit_for_bit() {
        if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
            println!("\n*** SKIPPED: no AVX2 on this CPU; the transposed pack did NOT run. ***\n");
            return;
        }
        for (n, k, ld) in [
            (1usize, 1usize, 1usize),
            (7, 5, 9),
            (8, 8, 8),
            (16, 16, 16),
            (17, 13, 20),
            (40, 300, 301),
            (33, 64, 70),
        ] {
            // B stored transposed: n stored rows of k values (ld apart).
            let stored: Vec<f32> = (0..n * ld).map(|i| i as f32 * 0.25 - 3.0).collect();
            let b = View::new(&stored, ld, true);
            for (rows, cols) in [
                (0..k, 0..n),
                (k / 3..k, n / 2..n),
                (k / 2..k / 2 + k.div_ceil(2), 0..n.div_ceil(3)),
            ] {
                let len = cols.len().div_ceil(NR) * NR * rows.len();
                let (mut want, mut got) = (vec![f32::NAN; len], vec![f32::NAN; len]);
                pack_b(NR, b, rows.clone(), cols.clone(), &mut want);
                // SAFETY: AVX2 was detected above.
                unsafe { pack_b_transposed(b, rows.clone(), cols.clone(), &mut got) };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&got),
                    bits(&want),
                    "n {n}, k {k}, ld {ld}, rows {rows:?}, cols {cols:?}"
                );
            }
        }
    }
}
