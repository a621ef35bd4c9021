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

pub use gemm::{Batched, Gemm};
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

/// The kernel [`sgemm`] uses: `SHORTMEM_KERNEL` if set, else the fastest this CPU
/// has (AVX-512F, AVX2 + FMA, NEON, scalar). Decided once and cached.
///
/// # Panics
/// If `SHORTMEM_KERNEL` names an unknown kernel or one this CPU lacks.
pub fn selected() -> Kernel {
    static SELECTED: OnceLock<Kernel> = OnceLock::new();
    *SELECTED.get_or_init(|| match std::env::var("SHORTMEM_KERNEL") {
        Ok(value) => match Kernel::from_name(&value) {
            Some(k) if k.is_available() => k,
            Some(k) => panic!(
                "SHORTMEM_KERNEL={value:?}: this CPU cannot run the {k} kernel (available here: {})",
                names(&available())
            ),
            None => panic!(
                "SHORTMEM_KERNEL={value:?}: unknown kernel; expected one of {} (available here: {})",
                names(&Kernel::ALL),
                names(&available())
            ),
        },
        Err(_) => [Kernel::Avx512, Kernel::Avx2, Kernel::Neon, Kernel::Scalar]
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Scalar),
    })
}

/// Runs one checked product on `kernel` (whose availability has been checked).
fn run(kernel: Kernel, threads: usize, p: &Problem) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    // SAFETY: the caller has checked that the CPU supports `kernel`, and `p` comes
    // from checked slices with C borrowed mutably.
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

/// Panics with a clear message unless `p` describes matrices that fit in slices
/// of `a_len`, `b_len` and `c_len` elements. `name` (the function, for the
/// message) is only formatted if a check fails.
fn check_gemm_args<T>(name: impl fmt::Display, p: &Gemm<T>, a_len: usize, b_len: usize, c_len: usize) {
    let need = |rows: usize, cols: usize, ld: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * ld + cols
        }
    };
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
        assert!(
            len >= need(rows, cols, ld),
            "{name}: {what} is {rows}×{cols} with ld{} = {ld}, which needs {} elements, but the slice has {len}",
            what.to_lowercase(),
            need(rows, cols, ld)
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
    // The last entry has the least room left, so checking it checks them all.
    let last = count - 1;
    let room = |len: usize, stride: usize| len.saturating_sub(last * stride);
    check_gemm_args(
        format_args!("{name} (entry {last} of 0..{count})"),
        p,
        room(lens.0, batch.stride_a),
        room(lens.1, batch.stride_b),
        room(lens.2, stride_c),
    );
    let (m, n, ldc) = (p.m, p.n, p.leading_dims().2);
    let c_extent = if m == 0 || n == 0 { 0 } else { (m - 1) * ldc + n };
    assert!(
        stride_c == 0 || stride_c >= c_extent || count == 1,
        "{name}: stride_c = {stride_c} is smaller than the {c_extent} elements of one C ({m}×{n} with ldc = {ldc}), so entries would overlap (stride_c = 0 accumulates into one C)"
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
    run(kernel, threads, &problem(p, a, b, c.as_mut_ptr()));
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
    let entry = |i: usize| {
        problem(
            p,
            // (An operand with no elements, k = 0, may have no room at all.)
            a.get(i * stride_a..).unwrap_or_default(),
            b.get(i * stride_b..).unwrap_or_default(),
            // SAFETY: i·stride_c + C's extent ≤ c.len() (checked above).
            unsafe { c_base.get().add(i * stride_c) },
        )
    };
    let flops = 2 * p.m * p.n * p.k;
    let entries_parallel = threads > 1
        && stride_c != 0
        && count > 1
        && flops < 2 * MIN_FLOPS_PER_THREAD
        && flops * count >= 2 * MIN_FLOPS_PER_THREAD;
    if entries_parallel {
        // Many small products: each thread takes a contiguous run of entries and
        // computes them one after another on its own.
        let shares = threads.min(count);
        let per = count.div_ceil(shares);
        let entry = &entry;
        threads::run_shares(shares, threads, |s| {
            for i in s * per..((s + 1) * per).min(count) {
                run(kernel, 1, &entry(i));
            }
        });
    } else {
        for i in 0..count {
            run(kernel, threads, &entry(i));
        }
    }
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
    for i in 0..batch.count {
        gemm_reference(
            p,
            // (An operand with no elements, k = 0, may have no room at all.)
            a.get(i * batch.stride_a..).unwrap_or_default(),
            b.get(i * batch.stride_b..).unwrap_or_default(),
            // (In range: the last entry's C was checked to fit.)
            &mut c[i * batch.stride_c..],
        );
    }
}
