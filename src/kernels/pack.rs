//! Packing: copying a block of A or B into the order the microkernel reads it.
//!
//! The microkernel walks along k and, at every step, needs `MR` values of one
//! column of A and `NR` values of one row of B. Packing rearranges a block so that
//! those values sit next to each other in memory, in exactly the order they are
//! consumed:
//!
//! ```text
//! packed A (MR = 3, a block of 5 rows, kc = 4)       packed B (NR = 4, a block of 6 columns, kc = 2)
//!
//! panel 0: a00 a10 a20 | a01 a11 a21 | … a23         panel 0: b00 b01 b02 b03 | b10 b11 b12 b13
//! panel 1: a30 a40  0  | a31 a41  0  | … a43  0      panel 1: b04 b05  0   0  | b14 b15  0   0
//! ```
//!
//! Each panel is one `MR×kc` sliver of A (column by column) or one `kc×NR` sliver
//! of B (row by row). The last panel is padded with zeros, so the microkernel never
//! has to know that it is at an edge while it multiplies; only its final store does.
//! Packed B panels start on 64-byte boundaries (one cache line, one AVX-512 vector).
//!
//! Packing also hides the transposes: `op(A)` and `op(B)` come out in the same
//! layout whether or not the caller's matrix was stored transposed, so the
//! microkernel exists in only one version.

/// A read-only matrix view: element `(i, j)` is `data[i·rs + j·cs]`.
///
/// A stored row-major matrix has `rs = ld, cs = 1`; its transpose is the same
/// storage with `rs = 1, cs = ld`.
#[derive(Clone, Copy)]
pub(super) struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// `op(X)` of a row-major matrix with leading dimension `ld`.
    pub fn new(data: &'a [f32], ld: usize, transposed: bool) -> Self {
        if transposed {
            View { data, rs: 1, cs: ld }
        } else {
            View { data, rs: ld, cs: 1 }
        }
    }
}

/// Packs rows `rows` × columns `cols` of `a` into `mr`-row panels (see the module
/// doc): `dst[panel·MR·kc + p·MR + i] = a(row0 + panel·MR + i, col0 + p)`, zero
/// beyond the last row. `dst` must hold `ceil(rows/MR)·MR·kc` values.
// Always inlined: the panel size is then the kernel's constant, which turns the
// per-step copies into fixed-size moves.
#[inline(always)]
pub(super) fn pack_a(
    mr: usize,
    a: View,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: &mut [f32],
) {
    let kc = cols.len();
    for (panel, out) in dst.chunks_exact_mut(mr * kc).enumerate() {
        let r0 = rows.start + panel * mr;
        if r0 >= rows.end {
            break;
        }
        let live = mr.min(rows.end - r0);
        let base = r0 * a.rs + cols.start * a.cs;
        if a.cs == 1 {
            // Rows are contiguous: gather one value from each of the live rows per
            // step of k, so the panel is written front to back while the rows are
            // read as `live` parallel streams.
            let src = &a.data[base..];
            if live == mr {
                for (p, out_col) in out.chunks_exact_mut(mr).enumerate() {
                    for (i, v) in out_col.iter_mut().enumerate() {
                        *v = src[i * a.rs + p];
                    }
                }
            } else {
                for (p, out_col) in out.chunks_exact_mut(mr).enumerate() {
                    for (i, v) in out_col[..live].iter_mut().enumerate() {
                        *v = src[i * a.rs + p];
                    }
                }
            }
        } else {
            // Columns are contiguous (A stored transposed): copy `live` values per step.
            // (`View::new` gives `rs = 1` whenever `cs != 1`.)
            debug_assert_eq!(a.rs, 1, "pack_a: a view with neither rows nor columns contiguous");
            for (p, out_col) in out.chunks_exact_mut(mr).enumerate() {
                let src = &a.data[base + p * a.cs..];
                if live == mr {
                    out_col.copy_from_slice(&src[..mr]);
                } else {
                    out_col[..live].copy_from_slice(&src[..live]);
                }
            }
        }
        if live < mr {
            for p in 0..kc {
                out[p * mr + live..(p + 1) * mr].fill(0.0);
            }
        }
    }
}

/// Packs rows `rows` (the k range) × columns `cols` of `b` into `nr`-column
/// panels: `dst[panel·kc·NR + p·NR + j] = b(row0 + p, col0 + panel·NR + j)`, zero
/// beyond the last column. `dst` must hold `ceil(cols/NR)·NR·kc` values.
#[inline(always)]
pub(super) fn pack_b(
    nr: usize,
    b: View,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    dst: &mut [f32],
) {
    let kc = rows.len();
    let panels = cols.len().div_ceil(nr);
    if b.cs == 1 && b.rs > 256 {
        // Long rows of B (more than 256 floats, 1 KiB): read each row once, front
        // to back, and deal it out to the panels (one cache line per panel for
        // AVX2). Going panel by panel instead would walk down B a whole row per
        // access: a new page every few accesses, and every access once rows
        // reach 4 KiB.
        for p in 0..kc {
            let src = &b.data[(rows.start + p) * b.rs + cols.start..][..cols.len()];
            for (panel, chunk) in src.chunks(nr).enumerate() {
                let out = &mut dst[panel * nr * kc + p * nr..][..nr];
                if chunk.len() == nr {
                    copy_panel_row(nr, out, chunk);
                } else {
                    out[..chunk.len()].copy_from_slice(chunk);
                    out[chunk.len()..].fill(0.0);
                }
            }
        }
        return;
    }
    if b.cs == 1 {
        // Short rows of B (a small matrix): fill one panel at a time, a short copy
        // per step of k. A full panel row copies a constant `nr` values, which
        // compiles to a few vector moves instead of a call to `memcpy`.
        for (panel, out) in dst.chunks_exact_mut(nr * kc).take(panels).enumerate() {
            let j0 = cols.start + panel * nr;
            let live = nr.min(cols.end - j0);
            for (p, out_row) in out.chunks_exact_mut(nr).enumerate() {
                let src = &b.data[(rows.start + p) * b.rs + j0..];
                if live == nr {
                    copy_panel_row(nr, out_row, src);
                } else {
                    out_row[..live].copy_from_slice(&src[..live]);
                    out_row[live..].fill(0.0);
                }
            }
        }
        return;
    }
    for (panel, out) in dst.chunks_exact_mut(nr * kc).take(panels).enumerate() {
        let j0 = cols.start + panel * nr;
        let live = nr.min(cols.end - j0);
        // B stored transposed: its columns are contiguous, so read one of them
        // along k and scatter it with stride nr.
        for j in 0..live {
            let src = &b.data[(j0 + j) * b.cs + rows.start * b.rs..][..kc];
            for (p, &v) in src.iter().enumerate() {
                out[p * nr + j] = v;
            }
        }
        if live < nr {
            for out_row in out.chunks_exact_mut(nr) {
                out_row[live..].fill(0.0);
            }
        }
    }
}

/// `out[..nr] = src[..nr]` for one row of a B panel. The kernels' widths get
/// a copy of a length known at compile time, a few vector moves; a length
/// known only at run time would be a call to `memcpy` for every 32 or 64 bytes.
#[inline(always)]
fn copy_panel_row(nr: usize, out: &mut [f32], src: &[f32]) {
    #[inline(always)]
    fn fixed<const N: usize>(out: &mut [f32], src: &[f32]) {
        let (out, src): (&mut [f32; N], &[f32; N]) = (
            (&mut out[..N]).try_into().expect("N values"),
            src[..N].try_into().expect("N values"),
        );
        *out = *src;
    }
    match nr {
        8 => fixed::<8>(out, src),
        12 => fixed::<12>(out, src),
        16 => fixed::<16>(out, src),
        32 => fixed::<32>(out, src),
        _ => out[..nr].copy_from_slice(&src[..nr]),
    }
}

/// A growable `f32` buffer whose working slice starts on a 64-byte boundary.
#[derive(Default)]
pub(super) struct AlignedBuf {
    raw: Vec<f32>,
}

impl AlignedBuf {
    /// A 64-byte-aligned slice of `len` values (contents unspecified: callers
    /// overwrite it). Grows the allocation when needed and keeps it for reuse.
    pub fn get(&mut self, len: usize) -> &mut [f32] {
        const SLACK: usize = 64 / std::mem::size_of::<f32>();
        if self.raw.len() < len + SLACK {
            self.raw = vec![0.0; len + SLACK];
        }
        let offset = self.raw.as_ptr().align_offset(64);
        &mut self.raw[offset..offset + len]
    }
}
