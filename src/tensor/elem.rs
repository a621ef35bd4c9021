//! The element type of a tensor: `f32` for training, `f64` for gradient checks.
//!
//! Everything in the engine is generic over [`Float`], so the very same model code
//! can run in `f64`, where central finite differences are precise enough to catch a
//! wrong backward pass (in `f32` they are not).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A real number the engine can compute with: implemented for `f32` and `f64`.
pub trait Float:
    Copy
    + Send
    + Sync
    + 'static
    + Default
    + PartialEq
    + PartialOrd
    + Debug
    + Display
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    /// Name shown in messages and checkpoints ("f32", "f64").
    const NAME: &'static str;

    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn is_finite(self) -> bool;
    fn max(self, other: Self) -> Self;

    /// `C = alpha·op(A)·op(B) + beta·C`, row-major (see [`crate::kernels::sgemm`]).
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        trans_a: bool,
        trans_b: bool,
        m: usize,
        n: usize,
        k: usize,
        alpha: Self,
        a: &[Self],
        lda: usize,
        b: &[Self],
        ldb: usize,
        beta: Self,
        c: &mut [Self],
        ldc: usize,
    );

    /// `batch` independent products of one shape, entry `i` reading A, B and C at
    /// offsets `i·stride_a`, `i·stride_b`, `i·stride_c` (see
    /// [`crate::kernels::sgemm_batched`]; a stride of 0 reuses one matrix, and
    /// `stride_c = 0` accumulates the entries into one C in order).
    #[allow(clippy::too_many_arguments)]
    fn gemm_batched(
        batch: usize,
        trans_a: bool,
        trans_b: bool,
        m: usize,
        n: usize,
        k: usize,
        alpha: Self,
        a: &[Self],
        lda: usize,
        stride_a: usize,
        b: &[Self],
        ldb: usize,
        stride_b: usize,
        beta: Self,
        c: &mut [Self],
        ldc: usize,
        stride_c: usize,
    );

    /// Runs `f` on the process-wide pool of free buffers of this type.
    fn with_pool<R>(f: impl FnOnce(&mut super::pool::Pool<Self>) -> R) -> R;

    /// 1/x.
    fn recip(self) -> Self {
        Self::ONE / self
    }
    /// Converts from `f32` (exact for both types).
    fn from_f32(x: f32) -> Self {
        Self::from_f64(x as f64)
    }
    /// Converts a count, e.g. to divide by the number of elements.
    fn from_usize(x: usize) -> Self {
        Self::from_f64(x as f64)
    }
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $gemm:path, $gemm_batched:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            const NAME: &'static str = $name;

            fn with_pool<R>(f: impl FnOnce(&mut super::pool::Pool<Self>) -> R) -> R {
                static POOL: std::sync::Mutex<super::pool::Pool<$t>> =
                    std::sync::Mutex::new(super::pool::Pool::new());
                f(&mut POOL.lock().unwrap_or_else(|e| e.into_inner()))
            }
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn gemm(
                trans_a: bool,
                trans_b: bool,
                m: usize,
                n: usize,
                k: usize,
                alpha: Self,
                a: &[Self],
                lda: usize,
                b: &[Self],
                ldb: usize,
                beta: Self,
                c: &mut [Self],
                ldc: usize,
            ) {
                $gemm(
                    trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                )
            }
            #[inline(always)]
            fn gemm_batched(
                batch: usize,
                trans_a: bool,
                trans_b: bool,
                m: usize,
                n: usize,
                k: usize,
                alpha: Self,
                a: &[Self],
                lda: usize,
                stride_a: usize,
                b: &[Self],
                ldb: usize,
                stride_b: usize,
                beta: Self,
                c: &mut [Self],
                ldc: usize,
                stride_c: usize,
            ) {
                $gemm_batched(
                    batch, trans_a, trans_b, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b, beta, c,
                    ldc, stride_c,
                )
            }
        }
    };
}

impl_float!(f32, "f32", crate::kernels::sgemm, crate::kernels::sgemm_batched);
impl_float!(f64, "f64", crate::kernels::dgemm, crate::kernels::dgemm_batched);
