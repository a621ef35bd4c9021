//! The plain-loop GEMM: the definition every fast kernel is tested against.

use crate::tensor::Float;

/// `C = alpha·op(A)·op(B) + beta·C` with three loops in i-k-j order (the inner
/// loop runs along rows of B and C, which are contiguous). No checks: callers
/// validate the arguments first.
#[allow(clippy::too_many_arguments)]
pub fn gemm_reference<E: Float>(
    trans_a: bool,
    trans_b: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: E,
    a: &[E],
    lda: usize,
    b: &[E],
    ldb: usize,
    beta: E,
    c: &mut [E],
    ldc: usize,
) {
    for i in 0..m {
        let c_row = &mut c[i * ldc..i * ldc + n];
        if beta == E::ZERO {
            c_row.iter_mut().for_each(|v| *v = E::ZERO);
        } else if beta != E::ONE {
            c_row.iter_mut().for_each(|v| *v *= beta);
        }
        for p in 0..k {
            let a_ip = alpha * if trans_a { a[p * lda + i] } else { a[i * lda + p] };
            if trans_b {
                for (j, cv) in c_row.iter_mut().enumerate() {
                    *cv += a_ip * b[j * ldb + p];
                }
            } else {
                let b_row = &b[p * ldb..p * ldb + n];
                for (cv, &bv) in c_row.iter_mut().zip(b_row) {
                    *cv += a_ip * bv;
                }
            }
        }
    }
}
