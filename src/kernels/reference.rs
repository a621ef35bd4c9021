//! The plain-loop GEMM: the definition every fast kernel is tested against.

use super::Gemm;
use crate::tensor::Float;

/// `C = α·op(A)·op(B) + β·C` as `p` describes it, with three loops in i-k-j order
/// (the inner loop runs along rows of B and C, which are contiguous). No checks:
/// callers validate the arguments first.
pub fn gemm_reference<E: Float>(p: &Gemm<E>, a: &[E], b: &[E], c: &mut [E]) {
    let Gemm {
        m,
        n,
        k,
        alpha,
        beta,
        trans_a,
        trans_b,
        ..
    } = *p;
    let (lda, ldb, ldc) = p.leading_dims();
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
