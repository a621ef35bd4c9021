//! Matrix-multiplication kernels: the one place where shortmem multiplies matrices.
//!
//! [`sgemm`] has BLAS semantics in row-major storage:
//! `C = alpha·op(A)·op(B) + beta·C`, where op(X) is X or Xᵀ, op(A) is `m×k`,
//! op(B) is `k×n`, and `lda`, `ldb`, `ldc` are the row lengths of the stored
//! matrices (at least their widths). As in BLAS, `beta == 0` means C is only
//! written, never read, so NaNs already in C do not leak into the result.

mod reference;

pub use reference::gemm_reference;

/// Panics with a clear message unless the arguments describe valid matrices.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_gemm_args(
    name: &str,
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    a_len: usize,
    lda: usize,
    b_len: usize,
    ldb: usize,
    c_len: usize,
    ldc: usize,
) {
    // Stored shapes: A is m×k (k×m if transposed), B is k×n (n×k if transposed).
    let (a_rows, a_cols) = if trans_a { (k, m) } else { (m, k) };
    let (b_rows, b_cols) = if trans_b { (n, k) } else { (k, n) };
    let need = |rows: usize, cols: usize, ld: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * ld + cols
        }
    };
    for (what, rows, cols, ld, len) in [
        ("A", a_rows, a_cols, lda, a_len),
        ("B", b_rows, b_cols, ldb, b_len),
        ("C", m, n, ldc, c_len),
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

/// Single-precision GEMM: `C = alpha·op(A)·op(B) + beta·C`, row-major.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    check_gemm_args(
        "sgemm",
        trans_a,
        trans_b,
        m,
        n,
        k,
        a.len(),
        lda,
        b.len(),
        ldb,
        c.len(),
        ldc,
    );
    gemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// Double-precision GEMM (used by `f64` gradient checks): same contract as
/// [`sgemm`], computed by the plain reference loop.
#[allow(clippy::too_many_arguments)]
pub fn dgemm(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f64,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    beta: f64,
    c: &mut [f64],
    ldc: usize,
) {
    check_gemm_args(
        "dgemm",
        trans_a,
        trans_b,
        m,
        n,
        k,
        a.len(),
        lda,
        b.len(),
        ldb,
        c.len(),
        ldc,
    );
    gemm_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// Sets the number of threads used by large products (before the first product).
pub fn set_threads(n: usize) -> Result<(), String> {
    if n == 0 {
        return Err("--threads must be at least 1".into());
    }
    Ok(())
}

/// The number of threads large products use.
pub fn threads() -> usize {
    1
}

/// The name of the kernel in use.
pub fn active_kernel() -> &'static str {
    "reference"
}
