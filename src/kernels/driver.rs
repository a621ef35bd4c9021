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
//!           on the last K block: the epilogue on that tile (+ bias, ReLU)
//! ```
//!
//! The microkernel keeps its `MR×NR` tile of C in registers for the whole `kc`
//! loop and touches C in memory only once per K block, so the inner loop is all
//! loads of A and B and fused multiply-adds. Each kernel file picks `MR`, `NR` for
//! its register file and `KC`, `MC`, `NC` for the caches of the cores it targets
//! (see the constants there).
//!
//! Only the first K block applies the caller's `beta`; later blocks add to what the
//! earlier ones stored (`beta = 1`), and only the last applies the product's
//! [`Epilogue`] (see `finish_tile`), while the tile it just stored is in L1. When `beta == 0` the microkernel never reads
//! C, so whatever was there before (NaN included) cannot leak into the result.
//!
//! For small products, and for thin ones (few B panels per A block), the copy into
//! packed panels would cost more than it saves, so A is then read in place (see
//! [`pack_a_pays`]): the microkernel takes A's strides instead of the panel
//! layout, which it can since it reads A one broadcast value at a time. B is
//! always packed: its panels are what the microkernel loads as whole vectors,
//! packing zero-pads the ragged right edge, and a B panel read in place from a
//! wide matrix (rows a multiple of 4 KiB apart) would have all its rows in one
//! L1 set, where they evict one another long before the panel is read again.
//!
//! The one exception is a product of at most [`FEW_ROWS`] rows (a generated
//! token times a weight matrix): each value of B then serves at most four rows,
//! so packing B would cost as much as the product, and [`few_rows`] reads it in
//! place, without the loop nest.

use super::gemm::{Epilogue, finish};
use super::pack::{AlignedBuf, View, pack_a, pack_b};
use crate::threads::run_shares;
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
    /// `A_LAYOUT` ([`A_PACKED`], [`A_ROWS`] or [`A_COLS`]) fixes one of A's strides
    /// at compile time, which keeps the unrolled loop's addresses in registers.
    ///
    /// # Safety
    /// The CPU supports the kernel's instructions; the pointers in `t` are valid
    /// for the reads and writes described on [`Tile`], and the C tile is not
    /// accessed by anyone else during the call.
    unsafe fn tile<const A_LAYOUT: u8>(t: &Tile);

    /// Packs rows `rows` (the k range) × columns `cols` of op(B) into `NR`-wide
    /// panels, as [`pack_b`] does (the same values in the same places). A
    /// kernel may copy a B stored transposed with its own vector transpose.
    ///
    /// # Safety
    /// The CPU supports the kernel's instructions.
    #[inline(always)]
    unsafe fn pack_b(b: View, rows: Range<usize>, cols: Range<usize>, dst: &mut [f32]) {
        pack_b(Self::NR, b, rows, cols, dst)
    }
}

/// A is a packed panel: `rs_a = 1`, `cs_a = MR`.
pub(super) const A_PACKED: u8 = 0;
/// A is read in place, stored untransposed: `cs_a = 1` (rows contiguous).
pub(super) const A_ROWS: u8 = 1;
/// A is read in place, stored transposed: `rs_a = 1` (columns contiguous).
pub(super) const A_COLS: u8 = 2;

/// Where a microkernel with `MR` rows finds A in layout `A_LAYOUT`: the offset
/// of each of its rows from `t.a`, and the stride `cs_a` from one step of k to
/// the next, both constant wherever the layout fixes them (with a packed panel,
/// the rows become fixed offsets from one pointer). Rows past the live ones
/// (`t.mr`) repeat the last live row, so an unpacked A is never read beyond its
/// end (those rows' results are dropped at the store).
#[inline(always)]
pub(super) fn a_rows<const A_LAYOUT: u8, const MR: usize>(t: &Tile) -> ([usize; MR], usize) {
    let (rs_a, cs_a) = match A_LAYOUT {
        A_PACKED => (1, MR),
        A_ROWS => (t.rs_a, 1),
        _ => (1, t.cs_a),
    };
    let last = t.mr - 1;
    let row = std::array::from_fn(|i| {
        if A_LAYOUT == A_PACKED {
            i
        } else {
            i.min(last) * rs_a
        }
    });
    (row, cs_a)
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
    /// Applied to each tile of C once its last K block is stored.
    pub epilogue: Epilogue<'a, f32>,
}

// SAFETY: `Problem` is shared between the threads of one product only, and each of
// them writes disjoint tiles of C (see `blocked`); A and B are only read.
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
/// through L1 and has no cache-set conflicts; that pays once the block is
/// reused for many B panels (n beyond 16 panels), or when the lines the
/// microkernel reads from A in place fall into a few L1 sets, where they evict
/// one another before the next B panel comes back for them:
///
/// * A stored as is: the rows of a sliver are read side by side, and they
///   collide once they are 4 KiB or more apart;
/// * A stored transposed (a weight's gradient dZᵀ·X): every step of k reads a
///   new line, a whole row of the stored matrix further on, and a sliver's
///   `KC` lines share a few sets once rows are 1 KiB or more apart. Packing
///   those took the product for a 1024-wide dZᵀ from 57 to 86 GFLOP/s, and
///   for 512- to 768-wide ones from 80 to 85–90 (Zen 3; `cargo run --release
///   --example layer_products medium`, the dW column, and `small`).
///
/// Below that, and for any op(A) of at most 32 KiB (64×128), the copy costs
/// more than it saves and the microkernel reads A in place.
pub(super) fn pack_a_pays(a: View, m: usize, k: usize, n: usize, nr: usize) -> bool {
    const IN_PLACE_MAX: usize = 32 * 1024 / std::mem::size_of::<f32>();
    const FAR_ROWS: usize = 4096 / std::mem::size_of::<f32>();
    const FAR_STEPS: usize = 1024 / std::mem::size_of::<f32>();
    let conflicts = if a.cs == 1 {
        a.rs >= FAR_ROWS
    } else {
        a.cs >= FAR_STEPS
    };
    m * k > IN_PLACE_MAX && (n > 16 * nr || conflicts)
}

thread_local! {
    /// Per-thread packing buffers, reused from call to call (a fresh allocation
    /// of a few hundred KiB per product would be a page-faulting `mmap`).
    static A_BUF: RefCell<AlignedBuf> = RefCell::default();
    static B_BUF: RefCell<AlignedBuf> = RefCell::default();
}

/// Runs `f` with this thread's buffer from `key`, or with a fresh one if it is
/// already in use further up this thread's stack (cannot happen today).
fn with_buffer<R>(
    key: &'static std::thread::LocalKey<RefCell<AlignedBuf>>,
    f: impl FnOnce(&mut AlignedBuf) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut AlignedBuf::default()),
    })
}

/// A product is split across threads only when each thread gets at least this
/// many flops (2·m·n·k): about 45 µs of work for one AVX2 core, long enough to
/// hide the wake-up of a sleeping worker. 128³ (4.2 Mflop) stays on one thread.
pub(super) const MIN_FLOPS_PER_THREAD: usize = 4 << 20;

/// Computes `p` with microkernel `K` on up to `threads` threads (the caller and
/// `threads - 1` pool workers).
///
/// Each thread computes its own rectangle of C with the whole loop nest, packing
/// its own blocks, so a product costs exactly one fork-join. (Sharing one packed
/// B block between threads would save a copy but cost a fork-join per K block,
/// and every fork-join wakes the helpers: on a VM whose virtual CPUs have gone
/// idle, that waits for the hypervisor to run them again.) C is cut along the
/// side that makes the threads duplicate the least packing: by columns, each
/// thread packs only its own B panels and reads A (in place, or packs it: then A
/// is packed twice); by rows, each packs its own A rows but all of B.
///
/// # Safety
/// `K`'s instructions are supported; `p.c` points to a C of at least
/// `(m - 1)·ldc + n` values, valid for writes and not accessed by anyone else
/// during the call; A and B hold the matrices `p` describes.
pub(super) unsafe fn gemm<K: MicroKernel>(p: &Problem, threads: usize) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    if p.k == 0 || p.alpha == 0.0 {
        // SAFETY: same contract as this function.
        unsafe { scale_rect(p, 0..p.m, 0..p.n) };
        return;
    }
    if p.m <= FEW_ROWS {
        // SAFETY: same contract as this function.
        unsafe { few_rows(p) };
        return;
    }
    let flops = 2usize.saturating_mul(p.m).saturating_mul(p.n).saturating_mul(p.k);
    let threads = threads.min(flops / MIN_FLOPS_PER_THREAD).max(1);
    let (row_tiles, b_panels) = (p.m.div_ceil(K::MR), p.n.div_ceil(K::NR));
    // Values each thread packs beyond its own share, for each way of cutting.
    let (m, n, k) = (p.m, p.n, p.k);
    let extra_by_cols = if pack_a_pays(p.a, m, k, n / threads, K::NR) {
        m * k
    } else {
        0
    };
    let extra_by_rows = k * n;
    let by_rows = (extra_by_rows < extra_by_cols && row_tiles >= threads) || b_panels < threads;
    let units = if by_rows { row_tiles } else { b_panels };
    let per = units.div_ceil(threads);
    let shares = units.div_ceil(per);
    // SAFETY: the shares are disjoint rectangles of C; the rest is the caller's
    // contract.
    run_shares(shares, threads, |s| unsafe {
        let (u0, u1) = (s * per, ((s + 1) * per).min(units));
        if by_rows {
            rect::<K>(p, u0 * K::MR..(u1 * K::MR).min(m), 0..n)
        } else {
            rect::<K>(p, 0..m, u0 * K::NR..(u1 * K::NR).min(n))
        }
    });
}

/// The loop nest of the module doc for rows `rows` × columns `cols` of C, on the
/// calling thread, with its packing buffers.
///
/// # Safety
/// As [`gemm`], with that rectangle of C touched by this call only.
// ANCHOR: loop_nest
unsafe fn rect<K: MicroKernel>(p: &Problem, rows: Range<usize>, cols: Range<usize>) {
    let nr = K::NR;
    with_buffer(&B_BUF, |bbuf| {
        with_buffer(&A_BUF, |abuf| {
            for jc in cols.clone().step_by(K::NC) {
                let nc = K::NC.min(cols.end - jc);
                let b_panels = nc.div_ceil(nr);
                for pc in (0..p.k).step_by(K::KC) {
                    let kc = K::KC.min(p.k - pc);
                    let bpack = bbuf.get(b_panels * nr * kc);
                    // SAFETY: `K`'s instructions are supported (this function's contract).
                    unsafe { K::pack_b(p.b, pc..pc + kc, jc..jc + nc, bpack) };
                    let beta = if pc == 0 { p.beta } else { 1.0 };
                    let block = Block {
                        jc,
                        nc,
                        pc,
                        kc,
                        bpack,
                        beta,
                    };
                    // SAFETY: forwarded contract.
                    unsafe { macro_kernel::<K>(p, &block, rows.clone(), 0..b_panels, abuf) };
                }
            }
        })
    })
}
// ANCHOR_END: loop_nest

/// Rows of C up to which a product skips the loop nest (see [`few_rows`]).
pub(super) const FEW_ROWS: usize = 4;

/// A product of at most [`FEW_ROWS`] rows, such as one generated token times a
/// weight matrix. Each value of B is used at most `m` times, so packing B
/// would cost as much as the product itself: B is read in place, once, in the
/// order it is stored, each of its columns or rows serving all `m` rows of C.
/// With op(B)'s columns contiguous (`x·Wᵀ`, the layers' case), each entry of C
/// is one dot product; with its rows contiguous, each row of C is a sum of B's
/// rows scaled by A's entries. On the calling thread, in plain Rust (the same
/// code whichever microkernel is selected): at these shapes the time goes to
/// reading B, not to arithmetic.
///
/// # Safety
/// As [`gemm`].
unsafe fn few_rows(p: &Problem) {
    let (m, n, k) = (p.m, p.n, p.k);
    // A's rows, copied contiguous; out[i·n + j] collects C's row i.
    let mut a = vec![0.0f32; m * k];
    for i in 0..m {
        for kk in 0..k {
            a[i * k + kk] = p.a.data[i * p.a.rs + kk * p.a.cs];
        }
    }
    let mut out = vec![0.0f32; m * n];
    if p.b.rs == 1 {
        // op(B)(·, j) = b[j·cs .. j·cs + k]
        for j in 0..n {
            let b_col = &p.b.data[j * p.b.cs..][..k];
            for i in 0..m {
                out[i * n + j] = dot(&a[i * k..][..k], b_col);
            }
        }
    } else {
        // op(B)(kk, ·) = b[kk·rs .. kk·rs + n] (a View has one unit stride)
        debug_assert_eq!(p.b.cs, 1);
        for kk in 0..k {
            let b_row = &p.b.data[kk * p.b.rs..][..n];
            for i in 0..m {
                let a_ik = a[i * k + kk];
                out[i * n..][..n]
                    .iter_mut()
                    .zip(b_row)
                    .for_each(|(o, &b)| *o += a_ik * b);
            }
        }
    }
    for (i, out_row) in out.chunks_exact(n).enumerate() {
        // SAFETY: row i < m of C, columns 0..n: inside C by the caller's contract.
        let c = unsafe { std::slice::from_raw_parts_mut(p.c.add(i * p.ldc), n) };
        if p.beta == 0.0 {
            c.iter_mut().zip(out_row).for_each(|(c, &o)| *c = p.alpha * o);
        } else {
            c.iter_mut()
                .zip(out_row)
                .for_each(|(c, &o)| *c = p.alpha * o + p.beta * *c);
        }
        p.epilogue.apply(c, 0);
    }
}

/// Σ x_i·y_i in sixteen partial sums, which the compiler keeps in vector
/// registers (one running sum would be a chain of dependent additions). Not
/// `ops::lanes::dot_lanes`: its indexed eight lanes made a cached generation
/// step 1.5x slower (0.28 against 0.41-0.46 ms for the ch05 model, measured
/// 2026-12-03 on the Xeon of the README).
fn dot(x: &[f32], y: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (xs, ys) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(a, b)| a * b)
        .sum();
    let mut acc = [0.0f32; LANES];
    for (xc, yc) in xs.zip(ys) {
        for l in 0..LANES {
            acc[l] += xc[l] * yc[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// One packed B block: columns `jc..jc + nc` and depth `pc..pc + kc` of op(B),
/// and the `beta` that applies to this pass over C.
struct Block<'a> {
    jc: usize,
    nc: usize,
    pc: usize,
    kc: usize,
    bpack: &'a [f32],
    beta: f32,
}

/// The inner loops: for rows `rows` of C and B panels `panels` of the block,
/// pack (or locate) A blocks and run the microkernel over every tile.
///
/// # Safety
/// As [`gemm`], with C's tiles in `rows × panels` touched by this call only.
unsafe fn macro_kernel<K: MicroKernel>(
    p: &Problem,
    blk: &Block,
    rows: Range<usize>,
    panels: Range<usize>,
    abuf: &mut AlignedBuf,
) {
    let (mr_, nr_, kc) = (K::MR, K::NR, blk.kc);
    let pack_a_here = pack_a_pays(p.a, rows.len(), p.k, panels.len() * nr_, nr_);
    // The epilogue runs on each tile as soon as the last K block has stored it.
    let last_block = p.epilogue.is_some() && blk.pc + kc == p.k;
    for ic in rows.clone().step_by(K::MC) {
        let mc = K::MC.min(rows.end - ic);
        let a_panels = mc.div_ceil(mr_);
        let (a_ptr, rs_a, cs_a) = if pack_a_here {
            let apack = abuf.get(a_panels * mr_ * kc);
            pack_a(mr_, p.a, ic..ic + mc, blk.pc..blk.pc + kc, apack);
            (apack.as_ptr(), 1, mr_)
        } else {
            (p.a.data[ic * p.a.rs + blk.pc * p.a.cs..].as_ptr(), p.a.rs, p.a.cs)
        };
        for jp in panels.clone() {
            let nr = nr_.min(blk.nc - jp * nr_);
            let b = blk.bpack[jp * nr_ * kc..].as_ptr();
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
                    // SAFETY: (ic + ip·MR, jc + jp·NR) is inside C.
                    c: unsafe { p.c.add((ic + ip * mr_) * p.ldc + blk.jc + jp * nr_) },
                    ldc: p.ldc,
                    alpha: p.alpha,
                    beta: blk.beta,
                    mr,
                    nr,
                };
                // SAFETY: the tile's pointers cover an mr×nr corner of this share's
                // part of C and full packed panels (see `Tile`); the layout matches
                // the strides.
                unsafe {
                    if pack_a_here {
                        K::tile::<A_PACKED>(&tile)
                    } else if cs_a == 1 {
                        K::tile::<A_ROWS>(&tile)
                    } else {
                        K::tile::<A_COLS>(&tile)
                    }
                }
                if last_block {
                    // SAFETY: the same mr×nr corner of C the tile just stored.
                    unsafe { finish_tile(p, &tile, blk.jc + jp * nr_) };
                }
            }
        }
    }
}

/// Applies the product's epilogue to the finished tile `t` of C, whose first
/// column is `col` of C.
///
/// # Safety
/// `t.c` is the corner of an `t.mr × t.nr` tile inside C, touched by this
/// call only.
#[inline(always)]
unsafe fn finish_tile(p: &Problem, t: &Tile, col: usize) {
    /// Full tile rows of `N` columns: a length known at compile time, and the
    /// ReLU chosen at compile time, so each row is a few vector operations.
    /// (`Epilogue::apply` for rows of N columns; without a bias, zeros are
    /// added, which changes no value but keeps every entry a new one.)
    ///
    /// # Safety
    /// As `finish_tile`, with `t.nr == N`.
    #[inline(always)]
    unsafe fn rows<const N: usize, const RELU: bool>(t: &Tile, bias: &[f32; N]) {
        debug_assert_eq!(t.nr, N);
        for i in 0..t.mr {
            // SAFETY: row i < mr of the tile and its N = nr columns lie inside
            // C and are touched by this call only (this function's contract);
            // an `[f32; N]` has the alignment of an f32.
            let row = unsafe { &mut *t.c.add(i * t.ldc).cast::<[f32; N]>() };
            *row = std::array::from_fn(|j| finish(row[j] + bias[j], RELU));
        }
    }
    /// # Safety
    /// As `rows`.
    #[inline(always)]
    unsafe fn full<const N: usize>(p: &Problem, t: &Tile, col: usize) {
        const { assert!(N <= 32) };
        let zeros = [0.0f32; 32];
        // (The bias has n values and col + N ≤ n: the tile lies inside C.)
        let bias: &[f32; N] = match p.epilogue.bias {
            Some(b) => b[col..][..N].try_into().expect("N values"),
            None => zeros[..N].try_into().expect("N values"),
        };
        // SAFETY: forwarded contract.
        unsafe {
            if p.epilogue.relu {
                rows::<N, true>(t, bias)
            } else {
                rows::<N, false>(t, bias)
            }
        }
    }
    // SAFETY (each arm): `N` is the tile's nr, and the tile is as this
    // function's contract says.
    match t.nr {
        8 => unsafe { full::<8>(p, t, col) },
        12 => unsafe { full::<12>(p, t, col) },
        16 => unsafe { full::<16>(p, t, col) },
        32 => unsafe { full::<32>(p, t, col) },
        nr => {
            for i in 0..t.mr {
                // SAFETY: row i < mr of the tile, its nr columns, inside C by the contract.
                let row = unsafe { std::slice::from_raw_parts_mut(t.c.add(i * t.ldc), nr) };
                p.epilogue.apply(row, col);
            }
        }
    }
}

/// `C = beta·C` over a rectangle (the whole product when `k == 0` or
/// `alpha == 0`); `beta == 0` writes zeros without reading C.
///
/// # Safety
/// As [`gemm`].
unsafe fn scale_rect(p: &Problem, rows: Range<usize>, cols: Range<usize>) {
    for i in rows {
        // SAFETY: row i, columns `cols` are inside C.
        let row = unsafe { std::slice::from_raw_parts_mut(p.c.add(i * p.ldc + cols.start), cols.len()) };
        if p.beta == 0.0 {
            row.fill(0.0);
        } else if p.beta != 1.0 {
            row.iter_mut().for_each(|v| *v *= p.beta);
        }
        p.epilogue.apply(row, cols.start);
    }
}
