//! The blocked GEMM loop nest that every microkernel plugs into.
//!
//! A product `C = alpha·op(A)·op(B) + beta·C` is cut three times, from the
//! outside in, so that each operand sits in the cache level that reuses it most:
//!
//! ```text
//! for jc in 0..n step NC            B block: kc×NC, shared by every row block (L3)
//!   for pc in 0..k step KC          pack B[pc.., jc..] into NR-wide panels
//!     for ic in 0..m step MC        A block: MC×kc, packed into MR-tall panels (L2)
//!       for jr in 0..nc step NR     one B panel, kc×NR, stays in L1 …
//!         for ir in 0..mc step MR   … while every A panel of the block streams past it
//!           microkernel: C[ir.., jr..] (MR×NR) = alpha·Apanel·Bpanel + beta·C
//! ```
//!
//! The microkernel keeps its `MR×NR` tile of C in registers for the whole `kc`
//! loop and touches C in memory only once per K block, so the inner loop is all
//! loads of A and B and fused multiply-adds. Each kernel file picks `MR`, `NR` for
//! its register file and `KC`, `MC`, `NC` for the caches of the cores it targets
//! (see the constants there).
//!
//! Only the first K block applies the caller's `beta`; later blocks add to what the
//! earlier ones stored (`beta = 1`). When `beta == 0` the microkernel never reads
//! C, so whatever was there before (NaN included) cannot leak into the result.
//!
//! For small products, and for thin ones (few B panels per A block), the copy into
//! packed panels would cost more than it saves, so A is then read in place (see
//! [`pack_a_pays`]): the microkernel takes A's strides instead of the panel
//! layout, which it can since it reads A one broadcast value at a time. B is
//! always packed: its panels are what the microkernel loads as whole vectors,
//! packing zero-pads the ragged right edge, and a B panel read in place from a
//! wide matrix would have all its rows in one L1 set (measured: 2× slower at
//! 64×256×1024).

use super::pack::{AlignedBuf, View, pack_a, pack_b};
use std::cell::RefCell;
use std::ops::Range;

/// What one call of a microkernel computes: an `mr×nr` tile of C (`mr ≤ MR`,
/// `nr ≤ NR`) from `k` steps of an A sliver and a packed B panel.
///
/// A is read at `a[i·rs_a + p·cs_a]` for row `i` and step `p`; a packed A panel
/// has `rs_a = 1, cs_a = MR`. Rows `i ≥ mr` must not be read when A is not packed
/// (the kernels repeat row `mr - 1` instead). B is a packed panel:
/// `b[p·NR + j]`, 64-byte aligned. C is row-major with row stride `ldc`, and only
/// its `mr×nr` corner is touched.
pub(super) struct Tile {
    pub k: usize,
    pub a: *const f32,
    pub rs_a: usize,
    pub cs_a: usize,
    pub b: *const f32,
    pub c: *mut f32,
    pub ldc: usize,
    pub alpha: f32,
    pub beta: f32,
    pub mr: usize,
    pub nr: usize,
}

/// A register-blocked microkernel and the block sizes that feed it.
pub(super) trait MicroKernel {
    /// Rows of the register tile.
    const MR: usize;
    /// Columns of the register tile (a multiple of the vector width).
    const NR: usize;
    /// Depth of a K block: a `KC×NR` B panel plus an `MR×KC` A panel fit in L1.
    const KC: usize;
    /// Rows of an A block (multiple of `MR`): `MC×KC` fits in L2.
    const MC: usize;
    /// Columns of a B block (multiple of `NR`): `KC×NC` fits in a share of L3.
    const NC: usize;

    /// `C[..mr, ..nr] = alpha·A·B + beta·C` for one tile (`beta == 0`: C not read).
    /// `PACKED_A` says that A is a packed panel, which lets the kernel use
    /// constant offsets.
    ///
    /// # Safety
    /// The CPU supports the kernel's instructions; the pointers in `t` are valid
    /// for the reads and writes described on [`Tile`], and the C tile is not
    /// accessed by anyone else during the call.
    unsafe fn tile<const PACKED_A: bool>(t: &Tile);
}

/// A product to compute, with C as a raw pointer so that threads can each write
/// their own disjoint rectangle of it.
pub(super) struct Problem<'a> {
    pub a: View<'a>,
    pub b: View<'a>,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f32,
    pub beta: f32,
    pub c: *mut f32,
    pub ldc: usize,
}

// SAFETY: `Problem` is shared between the threads of one product only, and each of
// them writes a disjoint rectangle of C (see `gemm_rect`); A and B are only read.
unsafe impl Sync for Problem<'_> {}
// SAFETY: as above; the pointer is only dereferenced inside disjoint rectangles.
unsafe impl Send for Problem<'_> {}

/// C's base pointer, to be shared by threads that write disjoint parts of it.
pub(super) struct SharedPtr(pub *mut f32);

impl SharedPtr {
    /// The pointer (a method, so that closures capture the `Sync` wrapper).
    pub fn get(&self) -> *mut f32 {
        self.0
    }
}

// SAFETY: only used to hand threads a C whose parts they write are disjoint.
unsafe impl Sync for SharedPtr {}

/// Whether packing A is worth its copy. A packed A block streams perfectly
/// through L1 and has no cache-set conflicts between its rows; that pays once the
/// block is reused for many B panels (n beyond 16 panels) or when A's rows are
/// 4 KiB or more apart, so that the rows of an A sliver all fall into the same
/// L1 set. Below that, and for any op(A) of at most 32 KiB (64×128), the copy
/// costs more than it saves and the microkernel reads A in place.
pub(super) fn pack_a_pays(a: View, m: usize, k: usize, n: usize, nr: usize) -> bool {
    const IN_PLACE_MAX: usize = 32 * 1024 / std::mem::size_of::<f32>();
    const FAR_ROWS: usize = 4096 / std::mem::size_of::<f32>();
    let rows_far_apart = a.cs == 1 && a.rs >= FAR_ROWS;
    m * k > IN_PLACE_MAX && (n > 16 * nr || rows_far_apart)
}

thread_local! {
    /// Per-thread packing buffers, reused from call to call (a fresh allocation
    /// of a few hundred KiB per product would be a page-faulting `mmap`).
    static BUFFERS: RefCell<(AlignedBuf, AlignedBuf)> = RefCell::default();
}

/// Computes rows `rows` and columns `cols` of `p`'s C with microkernel `K` on the
/// calling thread.
///
/// # Safety
/// `K`'s instructions are supported; `p.c` points to a C of at least
/// `(m - 1)·ldc + n` values, valid for writes, whose `rows × cols` rectangle no
/// one else accesses during the call; A and B hold the matrices `p` describes.
pub(super) unsafe fn gemm_rect<K: MicroKernel>(p: &Problem, rows: Range<usize>, cols: Range<usize>) {
    if rows.is_empty() || cols.is_empty() {
        return;
    }
    if p.k == 0 || p.alpha == 0.0 {
        // SAFETY: same contract as this function.
        unsafe { scale_rect(p, rows, cols) };
        return;
    }
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        // SAFETY: forwarded contract.
        Ok(mut bufs) => unsafe {
            let (abuf, bbuf) = &mut *bufs;
            blocked::<K>(p, rows, cols, abuf, bbuf)
        },
        // Re-entered on this thread (cannot happen today): use fresh buffers.
        // SAFETY: forwarded contract.
        Err(_) => unsafe {
            blocked::<K>(
                p,
                rows,
                cols,
                &mut AlignedBuf::default(),
                &mut AlignedBuf::default(),
            )
        },
    })
}

/// The loop nest of the module doc, for one rectangle of C.
///
/// # Safety
/// As [`gemm_rect`].
unsafe fn blocked<K: MicroKernel>(
    p: &Problem,
    rows: Range<usize>,
    cols: Range<usize>,
    abuf: &mut AlignedBuf,
    bbuf: &mut AlignedBuf,
) {
    let (mr_, nr_) = (K::MR, K::NR);
    let pack_a_here = pack_a_pays(p.a, rows.len(), p.k, cols.len(), nr_);
    for jc in cols.clone().step_by(K::NC) {
        let nc = K::NC.min(cols.end - jc);
        let b_panels = nc.div_ceil(nr_);
        for pc in (0..p.k).step_by(K::KC) {
            let kc = K::KC.min(p.k - pc);
            let bpack = bbuf.get(b_panels * nr_ * kc);
            pack_b(nr_, p.b, pc..pc + kc, jc..jc + nc, bpack);
            let beta = if pc == 0 { p.beta } else { 1.0 };
            for ic in rows.clone().step_by(K::MC) {
                let mc = K::MC.min(rows.end - ic);
                let a_panels = mc.div_ceil(mr_);
                let (a_ptr, rs_a, cs_a) = if pack_a_here {
                    let apack = abuf.get(a_panels * mr_ * kc);
                    pack_a(mr_, p.a, ic..ic + mc, pc..pc + kc, apack);
                    (apack.as_ptr(), 1, mr_)
                } else {
                    (p.a.data[ic * p.a.rs + pc * p.a.cs..].as_ptr(), p.a.rs, p.a.cs)
                };
                for jp in 0..b_panels {
                    let nr = nr_.min(nc - jp * nr_);
                    let b = bpack[jp * nr_ * kc..].as_ptr();
                    for ip in 0..a_panels {
                        let mr = mr_.min(mc - ip * mr_);
                        let a_offset = if pack_a_here {
                            ip * mr_ * kc
                        } else {
                            ip * mr_ * rs_a
                        };
                        let tile = Tile {
                            k: kc,
                            // SAFETY: `a_offset` is the start of panel `ip`, inside the
                            // packed buffer or inside A (row ic + ip·MR < m).
                            a: unsafe { a_ptr.add(a_offset) },
                            rs_a,
                            cs_a,
                            b,
                            // SAFETY: (ic + ip·MR, jc + jp·NR) is inside C's rectangle.
                            c: unsafe { p.c.add((ic + ip * mr_) * p.ldc + jc + jp * nr_) },
                            ldc: p.ldc,
                            alpha: p.alpha,
                            beta,
                            mr,
                            nr,
                        };
                        // SAFETY: the tile's pointers cover an mr×nr corner of this
                        // thread's rectangle and full packed panels (see `Tile`).
                        unsafe {
                            if pack_a_here {
                                K::tile::<true>(&tile)
                            } else {
                                K::tile::<false>(&tile)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `C = beta·C` over a rectangle (the whole product when `k == 0` or
/// `alpha == 0`); `beta == 0` writes zeros without reading C.
///
/// # Safety
/// As [`gemm_rect`].
unsafe fn scale_rect(p: &Problem, rows: Range<usize>, cols: Range<usize>) {
    for i in rows {
        // SAFETY: row i, columns `cols` are inside this thread's rectangle of C.
        let row = unsafe { std::slice::from_raw_parts_mut(p.c.add(i * p.ldc + cols.start), cols.len()) };
        if p.beta == 0.0 {
            row.fill(0.0);
        } else if p.beta != 1.0 {
            row.iter_mut().for_each(|v| *v *= p.beta);
        }
    }
}
