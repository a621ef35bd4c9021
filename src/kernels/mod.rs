//! Matrix-multiplication kernels: the one place where shortmem multiplies matrices.
//!
//! [`sgemm`] has BLAS semantics in row-major storage,
//! `C = alpha·op(A)·op(B) + beta·C` with op(X) = X or Xᵀ, and takes the product
//! as one descriptor, [`Gemm`], whose fields name what BLAS passes by position:
//! the sizes, α and β, and each operand's transpose flag and leading dimension.
//! As in BLAS, `beta == 0` means C is only written, never read, so NaNs already
//! in C do not leak into the result. [`sgemm_batched`] runs many independent
//! products of one shape (the heads of attention), described by [`Batched`],
//! spread over threads.
//!
//! ## How it is fast
//!
//! The product is computed the way BLIS, OpenBLAS and the Rust crates
//! `matrixmultiply` and `gemm` do it (the loop nest is in `driver.rs`):
//!
//! 1. **Blocking.** C is computed in blocks sized so that the block of B being
//!    used stays in L3, the block of A in L2 and a thin panel of B in L1.
//! 2. **Packing.** Those blocks are copied into contiguous, aligned panels in
//!    exactly the order the inner loop reads them, zero-padded at the edges
//!    (`pack.rs`). Small A operands are read in place instead.
//! 3. **A register-blocked microkernel** computes one small tile of C (6×16 for
//!    AVX2) entirely in vector registers with fused multiply-adds: the only code
//!    that must run at the speed of the hardware. There is one per instruction
//!    set: `avx512.rs`, `avx2.rs`, `neon.rs`, and the portable `scalar.rs`.
//! 4. **Threads.** A large product is cut into one rectangle of C per thread,
//!    each computed with the whole loop nest above; products under about
//!    4 Mflop per thread (128³ and smaller) stay on the calling thread. Batches of
//!    small products (attention heads) are spread over the threads instead
//!    (`driver.rs`, on the pool of [`crate::threads`]).
//!
//! ## Choosing a kernel
//!
//! The best kernel the CPU supports is detected once, on first use ([`selected`]):
//! AVX-512F, then AVX2 + FMA, then NEON, then the portable one. Setting
//! `SHORTMEM_KERNEL=scalar|avx2|avx512|neon` forces one; [`sgemm_with`] runs a given
//! kernel and thread count for one call, which is how the tests and benchmarks
//! compare them. [`crate::threads::set_threads`] (or `SHORTMEM_THREADS`) sets how many threads
//! large products use.

mod driver;
mod gemm;
mod pack;
mod peak;
mod reference;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use crate::threads::{self, threads};
use driver::{MIN_FLOPS_PER_THREAD, Problem, gemm};
use pack::View;
use std::fmt;
use std::sync::OnceLock;

pub use gemm::{Batched, Epilogue, Gemm};
pub use peak::fma_peak_gflops;
pub use reference::gemm_reference;

/// A microkernel implementation, i.e. an instruction set the product can run on.
/// Ordered as declared (the order of [`Kernel::ALL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kernel {
    /// Plain Rust, any CPU (4×8 tile).
    Scalar,
    /// x86-64 AVX2 with FMA (6×16 tile).
    Avx2,
    /// x86-64 AVX-512F (8×32 tile).
    Avx512,
    /// aarch64 NEON (8×12 tile).
    Neon,
}

impl Kernel {
    /// Every kernel, whether or not this CPU has it.
    pub const ALL: [Kernel; 4] = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512, Kernel::Neon];

    /// The name used by `SHORTMEM_KERNEL` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Scalar => "scalar",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
            Kernel::Neon => "neon",
        }
    }

    /// The kernel called `name` (as in `SHORTMEM_KERNEL`), if there is one.
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL
            .into_iter()
            .find(|k| k.name() == name.trim().to_ascii_lowercase())
    }

    /// Whether this CPU can run the kernel (detected at run time).
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => is_x86_feature_detected!("avx512f"),
            // NEON is part of the aarch64 baseline.
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kernels this CPU can run, portable one first.
pub fn available() -> Vec<Kernel> {
    Kernel::ALL.into_iter().filter(|k| k.is_available()).collect()
}

fn names(kernels: &[Kernel]) -> String {
    kernels.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

/// The kernel [`sgemm`] uses: `SHORTMEM_KERNEL` if set, else the fastest this
/// CPU has (AVX-512F, AVX2 + FMA, NEON, scalar) that agrees with the portable
/// kernel on a few test products ([`self_check`]). Decided once and cached.
/// Programs call [`try_selected`] at start-up, so that a bad `SHORTMEM_KERNEL`
/// is a clear error before any work, not a panic at the first product.
///
/// # Panics
/// If `SHORTMEM_KERNEL` names an unknown kernel or one this CPU lacks.
pub fn selected() -> Kernel {
    try_selected().unwrap_or_else(|e| panic!("{e}"))
}

/// [`selected`], or why `SHORTMEM_KERNEL` cannot be used.
pub fn try_selected() -> Result<Kernel, String> {
    static SELECTED: OnceLock<Result<Kernel, String>> = OnceLock::new();
    SELECTED.get_or_init(choose).clone()
}

/// The kernel `SHORTMEM_KERNEL` names, or the fastest that passes its self-check.
fn choose() -> Result<Kernel, String> {
    if let Ok(value) = std::env::var("SHORTMEM_KERNEL") {
        return match Kernel::from_name(&value) {
            Some(k) if k.is_available() => Ok(k),
            Some(k) => Err(format!(
                "SHORTMEM_KERNEL={value:?}: this CPU cannot run the {k} kernel (available here: {})",
                names(&available())
            )),
            None => Err(format!(
                "SHORTMEM_KERNEL={value:?}: unknown kernel; expected one of {} (available here: {})",
                names(&Kernel::ALL),
                names(&available())
            )),
        };
    }
    for kernel in [Kernel::Avx512, Kernel::Avx2, Kernel::Neon] {
        if !kernel.is_available() {
            continue;
        }
        match self_check(kernel) {
            Ok(()) => return Ok(kernel),
            Err(e) => eprintln!("warning: the {kernel} kernel is not used: {e}"),
        }
    }
    Ok(Kernel::Scalar)
}

/// Runs `kernel` on a few products of awkward sizes (ragged tile edges, every
/// transpose, padded leading dimensions, α and β) and compares each with the
/// portable kernel; `Err` describes the first product on which they disagree.
/// A kernel is checked this way before it is chosen by default, because some
/// (AVX-512 in particular) cannot be tested on every machine the crate is
/// developed on.
///
/// # Panics
/// If this CPU cannot run `kernel`.
pub fn self_check(kernel: Kernel) -> Result<(), String> {
    assert_available("self_check", kernel, 1);
    check_against_portable(&|p, a, b, c| sgemm_with(kernel, 1, p, a, b, c))
}

/// A single-precision product, as a function: `C = α·op(A)·op(B) + β·C`.
pub type Sgemm<'a> = &'a dyn Fn(&Gemm<f32>, &[f32], &[f32], &mut [f32]);

/// Compares `candidate` with the portable kernel on the self-check's products.
#[doc(hidden)]
pub fn check_against_portable(candidate: Sgemm) -> Result<(), String> {
    // A small deterministic generator: the check must not depend on `rand`'s
    // streams, and needs no more than numbers in (−1, 1).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    };
    // The last is large enough that the driver packs A (see `pack_a_pays`).
    let shapes = [
        (1, 1, 1),
        (7, 33, 5),
        (13, 17, 64),
        (33, 31, 129),
        (65, 70, 300),
        (40, 600, 300),
    ];
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        let (ta, tb) = (i % 2 == 1, i % 4 >= 2);
        let mut p = Gemm::new(m, n, k)
            .alpha(0.75)
            .beta(if i % 3 == 0 { 0.0 } else { 0.5 });
        if ta {
            p = p.transpose_a();
        }
        if tb {
            p = p.transpose_b();
        }
        let ((ar, ac), (br, bc)) = (p.a_stored(), p.b_stored());
        let p = p.lda(ac + 1).ldb(bc + 2).ldc(n + 3);
        let a: Vec<f32> = (0..ar * (ac + 1)).map(|_| next()).collect();
        let b: Vec<f32> = (0..br * (bc + 2)).map(|_| next()).collect();
        let c0: Vec<f32> = (0..m * (n + 3)).map(|_| next()).collect();
        let (mut want, mut got) = (c0.clone(), c0);
        sgemm_with(Kernel::Scalar, 1, &p, &a, &b, &mut want);
        candidate(&p, &a, &b, &mut got);
        // Both round differently, by about √k units in the last place; a wrong
        // term is off by far more. The padding of C must be left as it was.
        // (Written as "not within", so that a NaN counts as a disagreement.)
        let tol = 1e-5 * (k as f32).sqrt();
        let within = |j: usize| (want[j] - got[j]).abs() <= tol * (1.0 + want[j].abs());
        if let Some(at) = (0..want.len()).find(|&j| !within(j)) {
            return Err(format!(
                "on a {m}×{n}×{k} product (A{} B{}) it gives {} at element {at} where the portable kernel gives {}",
                if ta { "ᵀ" } else { "" },
                if tb { "ᵀ" } else { "" },
                got[at],
                want[at]
            ));
        }
    }
    Ok(())
}

/// Runs one product on `kernel`.
///
/// # Safety
/// The CPU must support `kernel`, and `p` must come from [`problem`] on
/// arguments that passed `check_gemm_args` (or `check_batched_args`, for an
/// entry of a batch): A and B lie inside the slices `p` reads, C inside
/// memory the caller may write and that nothing else reads or writes during
/// the call.
unsafe fn run(kernel: Kernel, threads: usize, p: &Problem) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    // SAFETY: the caller's contract above is what each kernel's driver needs.
    unsafe {
        match kernel {
            Kernel::Scalar => gemm::<scalar::Scalar>(p, threads),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => gemm::<avx2::Avx2>(p, threads),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => gemm::<avx512::Avx512>(p, threads),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => gemm::<neon::Neon>(p, threads),
            #[allow(unreachable_patterns)]
            _ => unreachable!("kernel {kernel} is not compiled for this architecture"),
        }
    }
}

fn assert_available(name: &str, kernel: Kernel, threads: usize) {
    assert!(
        kernel.is_available(),
        "{name}: this CPU cannot run the {kernel} kernel (available here: {})",
        names(&available())
    );
    assert!(threads >= 1, "{name}: the thread count must be at least 1, got 0");
}

/// The elements a `rows × cols` matrix with leading dimension `ld` spans,
/// `(rows − 1)·ld + cols` (0 if it is empty), or `None` if that number does not
/// fit in a `usize`: no slice could hold it.
fn extent(rows: usize, cols: usize, ld: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(ld)?.checked_add(cols)
}

/// Panics with a clear message unless `p` describes matrices that fit in slices
/// of `a_len`, `b_len` and `c_len` elements. `name` (the function, for the
/// message) is only formatted if a check fails. Every product is computed
/// without overflow, so no argument, however large, can pass by wrapping round.
fn check_gemm_args<T>(name: impl fmt::Display, p: &Gemm<T>, a_len: usize, b_len: usize, c_len: usize) {
    let (a_rows, a_cols) = p.a_stored();
    let (b_rows, b_cols) = p.b_stored();
    let (lda, ldb, ldc) = p.leading_dims();
    for (what, rows, cols, ld, len) in [
        ("A", a_rows, a_cols, lda, a_len),
        ("B", b_rows, b_cols, ldb, b_len),
        ("C", p.m, p.n, ldc, c_len),
    ] {
        assert!(
            ld >= cols.max(1),
            "{name}: ld{} = {ld} is smaller than the row length {cols} of {what} ({rows}×{cols} as stored)",
            what.to_lowercase()
        );
        let need = extent(rows, cols, ld);
        assert!(
            need.is_some_and(|need| len >= need),
            "{name}: {what} is {rows}×{cols} with ld{} = {ld}, which needs {} elements, but the slice has {len}",
            what.to_lowercase(),
            need.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string())
        );
    }
}

/// The checks of a batched product (`name` is the function): every entry's
/// matrices fit in its slices, and entries of C do not overlap.
fn check_batched_args<T>(name: &str, p: &Gemm<T>, batch: &Batched, lens: (usize, usize, usize)) {
    let (count, stride_c) = (batch.count, batch.stride_c);
    if count == 0 {
        return;
    }
    // The last entry has the least room left, so checking it checks them all:
    // entry i < last starts at i·stride ≤ last·stride, with at least as much room.
    let last = count - 1;
    let (lda, ldb, ldc) = p.leading_dims();
    let (a_rows, a_cols) = p.a_stored();
    let (b_rows, b_cols) = p.b_stored();
    // An empty matrix (k = 0) needs no room, wherever its entry would start.
    let room = |what: &str, len: usize, stride: usize, (rows, cols, ld)| match last.checked_mul(stride) {
        Some(start) => len.saturating_sub(start),
        None if extent(rows, cols, ld) == Some(0) => 0,
        None => panic!(
            "{name}: stride_{what} = {stride} puts entry {last} of 0..{count} at more than usize::MAX elements, past the end of any slice"
        ),
    };
    let rooms = (
        room("a", lens.0, batch.stride_a, (a_rows, a_cols, lda)),
        room("b", lens.1, batch.stride_b, (b_rows, b_cols, ldb)),
        room("c", lens.2, stride_c, (p.m, p.n, ldc)),
    );
    let entry = format_args!("{name} (entry {last} of 0..{count})");
    check_gemm_args(entry, p, rooms.0, rooms.1, rooms.2);
    let (m, n) = (p.m, p.n);
    // (It fits: C's extent was just checked against its slice.)
    let c_extent = extent(m, n, ldc).unwrap_or(usize::MAX);
    assert!(
        stride_c == 0 || stride_c >= c_extent || count == 1,
        "{name}: stride_c = {stride_c} is smaller than the {c_extent} elements of one C ({m}×{n} with ldc = {ldc}), so entries would overlap (stride_c = 0 sums into one C)"
    );
}

/// The kernels' view of a checked single-precision product.
fn problem<'a>(p: &Gemm<f32>, a: &'a [f32], b: &'a [f32], c: *mut f32) -> Problem<'a> {
    let (lda, ldb, ldc) = p.leading_dims();
    Problem {
        a: View::new(a, lda, p.trans_a),
        b: View::new(b, ldb, p.trans_b),
        m: p.m,
        n: p.n,
        k: p.k,
        alpha: p.alpha,
        beta: p.beta,
        c,
        ldc,
        epilogue: Epilogue::default(),
    }
}

/// Single-precision GEMM, `C = α·op(A)·op(B) + β·C` as `p` describes it (see
/// [`Gemm`]), on the [`selected`] kernel and [`threads()`] threads.
///
/// # Panics
/// If a leading dimension is smaller than its matrix's row length, or a slice is
/// too short for the matrix it holds (the message names which).
pub fn sgemm(p: &Gemm<f32>, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_with(selected(), threads(), p, a, b, c);
}

/// [`sgemm`] on a given kernel and number of threads (for tests, benchmarks and
/// the book's comparisons).
///
/// # Panics
/// As [`sgemm`]; also if this CPU cannot run `kernel` or `threads` is 0.
pub fn sgemm_with(kernel: Kernel, threads: usize, p: &Gemm<f32>, a: &[f32], b: &[f32], c: &mut [f32]) {
    check_gemm_args("sgemm", p, a.len(), b.len(), c.len());
    assert_available("sgemm", kernel, threads);
    // SAFETY: the CPU supports `kernel` and the arguments were checked just
    // above (every extent without overflow); C is borrowed mutably for the call.
    unsafe { run(kernel, threads, &problem(p, a, b, c.as_mut_ptr())) };
}

/// [`sgemm`] followed by an [`Epilogue`]: `C = relu(α·op(A)·op(B) + β·C + bias)`,
/// the bias added to every row and the ReLU applied if the epilogue asks for
/// them, each tile of C finished while it is still in cache. Equal, bit for
/// bit, to [`sgemm`] followed by a pass of [`Epilogue::apply`] over C's rows.
///
/// # Panics
/// As [`sgemm`]; also if the bias does not have one value per column of C.
pub fn sgemm_then(p: &Gemm<f32>, epilogue: Epilogue<f32>, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_then_with(selected(), threads(), p, epilogue, a, b, c);
}

/// [`sgemm_then`] on a given kernel and number of threads.
///
/// # Panics
/// As [`sgemm_then`]; also if this CPU cannot run `kernel` or `threads` is 0.
pub fn sgemm_then_with(
    kernel: Kernel,
    threads: usize,
    p: &Gemm<f32>,
    epilogue: Epilogue<f32>,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    check_gemm_args("sgemm_then", p, a.len(), b.len(), c.len());
    check_epilogue("sgemm_then", p, &epilogue);
    assert_available("sgemm_then", kernel, threads);
    let problem = Problem {
        epilogue,
        ..problem(p, a, b, c.as_mut_ptr())
    };
    // SAFETY: as in `sgemm_with`; the bias, only read, has a value per column of C.
    unsafe { run(kernel, threads, &problem) };
}

/// Panics with a clear message unless the epilogue's bias has one value per column of C.
fn check_epilogue<T>(name: &str, p: &Gemm<T>, epilogue: &Epilogue<T>) {
    if let Some(bias) = epilogue.bias {
        assert!(
            bias.len() == p.n,
            "{name}: the bias has {} values for the {} columns of C",
            bias.len(),
            p.n
        );
    }
}

/// [`Batched`] products of one shape: for `i` in `0..batch.count`,
/// `C_i = α·op(A_i)·op(B_i) + β·C_i`. Small products (attention heads) are
/// spread over the threads, large ones are each split as in [`sgemm`].
///
/// # Panics
/// As [`sgemm`], for every entry; also if `stride_c` is nonzero but smaller than
/// C's extent, so that entries would overlap.
pub fn sgemm_batched(p: &Gemm<f32>, batch: &Batched, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_batched_with(selected(), threads(), p, batch, a, b, c);
}

/// [`sgemm_batched`] on a given kernel and number of threads.
///
/// # Panics
/// As [`sgemm_batched`]; also if this CPU cannot run `kernel` or `threads` is 0.
pub fn sgemm_batched_with(
    kernel: Kernel,
    threads: usize,
    p: &Gemm<f32>,
    batch: &Batched,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    if batch.count == 0 {
        return;
    }
    check_batched_args("sgemm_batched", p, batch, (a.len(), b.len(), c.len()));
    assert_available("sgemm_batched", kernel, threads);
    if p.m == 0 || p.n == 0 {
        return;
    }
    let Batched {
        count,
        stride_a,
        stride_b,
        stride_c,
    } = *batch;
    let c_base = driver::SharedPtr(c.as_mut_ptr());
    // Summed into one C (stride 0), only the first entry applies β.
    let adding = Gemm { beta: 1.0, ..*p };
    let entry = |i: usize| {
        problem(
            if stride_c == 0 && i > 0 { &adding } else { p },
            // Entry i ≤ last starts at i·stride, no later than the last entry, whose
            // operands were checked to fit (without overflow). An operand past the
            // end of its slice has no elements (k = 0): it gets an empty slice.
            operand(a, i, stride_a),
            operand(b, i, stride_b),
            // SAFETY: i·stride_c + C's extent ≤ last·stride_c + C's extent ≤ c.len()
            // (checked above without overflow), so the offset is inside `c`.
            unsafe { c_base.get().add(i * stride_c) },
        )
    };
    let flops = 2usize.saturating_mul(p.m).saturating_mul(p.n).saturating_mul(p.k);
    let entries_parallel = threads > 1
        && stride_c != 0
        && count > 1
        && flops < 2 * MIN_FLOPS_PER_THREAD
        && flops.saturating_mul(count) >= 2 * MIN_FLOPS_PER_THREAD;
    if entries_parallel {
        // Many small products: each thread takes a contiguous run of entries and
        // computes them one after another on its own.
        let shares = threads.min(count);
        let per = count.div_ceil(shares);
        let entry = &entry;
        threads::run_shares(shares, threads, |s| {
            for i in s * per..((s + 1) * per).min(count) {
                // SAFETY: the CPU supports `kernel`; entry i's A, B and C were
                // checked to fit (through the last entry); entries of C do not
                // overlap (stride_c ≥ C's extent, and not 0 here), and each
                // entry is computed by one share only, so no two threads write
                // the same element; `c` is borrowed mutably for the whole call.
                unsafe { run(kernel, 1, &entry(i)) };
            }
        });
    } else {
        for i in 0..count {
            // SAFETY: as above, one entry at a time (stride_c = 0 sums
            // into one C, sequentially).
            unsafe { run(kernel, threads, &entry(i)) };
        }
    }
}

/// Entry `i`'s operand: `x` from `i·stride` on, or an empty slice if that is
/// past its end or beyond `usize::MAX`, as it may only be for an operand with no
/// elements (k = 0), whose room the checks do not demand.
fn operand<E>(x: &[E], i: usize, stride: usize) -> &[E] {
    i.checked_mul(stride)
        .and_then(|at| x.get(at..))
        .unwrap_or_default()
}

/// Double-precision GEMM (used by `f64` gradient checks): same contract as
/// [`sgemm`], computed by the plain reference loop.
pub fn dgemm(p: &Gemm<f64>, a: &[f64], b: &[f64], c: &mut [f64]) {
    check_gemm_args("dgemm", p, a.len(), b.len(), c.len());
    if p.m == 0 || p.n == 0 {
        // (C may then be shorter than m rows of ldc: nothing to touch.)
        return;
    }
    gemm_reference(p, a, b, c);
}

/// Double-precision [`sgemm_then`]: the reference loop, then the epilogue row by row.
pub fn dgemm_then(p: &Gemm<f64>, epilogue: Epilogue<f64>, a: &[f64], b: &[f64], c: &mut [f64]) {
    check_epilogue("dgemm_then", p, &epilogue);
    dgemm(p, a, b, c);
    if p.m == 0 || p.n == 0 {
        // (C may then be shorter than m rows of ldc: nothing to touch.)
        return;
    }
    let ldc = p.leading_dims().2;
    for i in 0..p.m {
        epilogue.apply(&mut c[i * ldc..][..p.n], 0);
    }
}

/// Double-precision batched GEMM (for `f64` gradient checks): same contract as
/// [`sgemm_batched`], one entry after another on the reference loop.
pub fn dgemm_batched(p: &Gemm<f64>, batch: &Batched, a: &[f64], b: &[f64], c: &mut [f64]) {
    if batch.count == 0 {
        return;
    }
    check_batched_args("dgemm_batched", p, batch, (a.len(), b.len(), c.len()));
    if p.m == 0 || p.n == 0 {
        return;
    }
    // Summed into one C (stride 0), only the first entry applies β.
    let adding = Gemm { beta: 1.0, ..*p };
    for i in 0..batch.count {
        gemm_reference(
            if batch.stride_c == 0 && i > 0 { &adding } else { p },
            // (An operand with no elements, k = 0, may have no room at all.)
            operand(a, i, batch.stride_a),
            operand(b, i, batch.stride_b),
            // (In range: the last entry's C was checked to fit.)
            &mut c[i * batch.stride_c..],
        );
    }
}
