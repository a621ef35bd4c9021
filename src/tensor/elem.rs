//! The element type of a tensor: `f32` for training, `f64` for gradient checks.
//!
//! Everything in the engine is generic over [`Float`], so the very same model code
//! can run in `f64`, where central finite differences are precise enough to catch a
//! wrong backward pass (in `f32` they are not).

use crate::kernels::{Batched, Epilogue, Gemm};
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
    + From<f32>
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

    /// `C = α·op(A)·op(B) + β·C` as `p` describes it (see [`crate::kernels::sgemm`]).
    fn gemm(p: &Gemm<Self>, a: &[Self], b: &[Self], c: &mut [Self]);

    /// Many products of one shape (see [`crate::kernels::sgemm_batched`]).
    fn gemm_batched(p: &Gemm<Self>, batch: &Batched, a: &[Self], b: &[Self], c: &mut [Self]);

    /// One product and its epilogue (see [`crate::kernels::sgemm_then`]).
    fn gemm_then(p: &Gemm<Self>, epilogue: Epilogue<Self>, a: &[Self], b: &[Self], c: &mut [Self]);

    /// Runs `f` on the process-wide pool of free buffers of this type.
    fn with_pool<R>(f: impl FnOnce(&mut super::pool::Pool<Self>) -> R) -> R;

    /// 1/x.
    fn recip(self) -> Self {
        Self::ONE / self
    }
    /// Converts a count, e.g. to divide by the number of elements.
    fn from_usize(x: usize) -> Self {
        Self::from_f64(x as f64)
    }
}

macro_rules! impl_float {
    ($t:ty, $name:literal, $exp:path, $tanh:path, $gemm:path, $gemm_batched:path, $gemm_then:path) => {
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
                $exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
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
            fn gemm(p: &Gemm<Self>, a: &[Self], b: &[Self], c: &mut [Self]) {
                $gemm(p, a, b, c)
            }
            #[inline(always)]
            fn gemm_batched(p: &Gemm<Self>, batch: &Batched, a: &[Self], b: &[Self], c: &mut [Self]) {
                $gemm_batched(p, batch, a, b, c)
            }
            #[inline(always)]
            fn gemm_then(p: &Gemm<Self>, epilogue: Epilogue<Self>, a: &[Self], b: &[Self], c: &mut [Self]) {
                $gemm_then(p, epilogue, a, b, c)
            }
        }
    };
}

impl_float!(
    f32,
    "f32",
    exp_f32,
    tanh_f32,
    crate::kernels::sgemm,
    crate::kernels::sgemm_batched,
    crate::kernels::sgemm_then
);
impl_float!(
    f64,
    "f64",
    f64::exp,
    f64::tanh,
    crate::kernels::dgemm,
    crate::kernels::dgemm_batched,
    crate::kernels::dgemm_then
);

/// e^x in f32 without a library call, so that loops over a row (softmax, the
/// cross-entropy, sigmoid) vectorise: within 1 ulp of the correctly rounded value for
/// every finite x (the test `exp_f32_is_within_one_ulp` sweeps the whole range).
///
/// Write x = n·ln 2 + r with n an integer and |r| ≤ ln 2 / 2; then
/// e^x = 2ⁿ · e^r, where e^r comes from a degree-6 polynomial (Cephes' `expf`
/// coefficients) and 2ⁿ is built directly in the exponent bits. Arguments
/// above ln(f32::MAX) give +∞, those below ln of the smallest normal give 0,
/// and NaN stays NaN. Every step is a plain arithmetic or a select: no branch.
// ANCHOR: exp_f32
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const HI: f32 = 88.722_83; // ln(f32::MAX)
    const LO: f32 = -87.336_55; // ln(f32::MIN_POSITIVE)
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in two, so that n·LN2_HI is exact and r keeps its low bits.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5·2²³ rounds to the nearest integer and leaves it in the low bits.
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(LO, HI);
    let shifted = xc * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // 2ⁿ from the exponent bits; for n > 0 as 2^(n−1)·2, so that n = 128
    // (x near HI) still fits, and n = −126 (x near LO) stays a normal number.
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let positive = n_int > 0;
    let biased = n_int + 127 - i32::from(positive);
    let two_n = f32::from_bits((biased.clamp(1, 254) as u32) << 23);
    let y = e_r * two_n * if positive { 2.0 } else { 1.0 };
    if x > HI {
        f32::INFINITY
    } else if x < LO {
        0.0
    } else {
        y
    }
}
// ANCHOR_END: exp_f32

/// tanh x in f32 without a library call, so that the RNN's activations
/// vectorise: within 2 ulp of the correctly rounded value for every finite x
/// (the test `tanh_f32_is_within_two_ulp` samples every 64th bit pattern; a
/// sweep of all 2³¹ non-negative finite floats found 99.8 % exact, the rest
/// 1 ulp off but for 150,048 at 2 ulp, the worst near 8.32).
///
/// With a = |x|: below ½ the odd Taylor series through x¹⁵ (its first omitted
/// term is below 10⁻⁸ of the result); from ½ on, (e^{2a} − 1)/(e^{2a} + 1) with
/// [`exp_f32`], where e^{2a} ≥ e, so the subtraction loses no more than a bit;
/// past 10 the result rounds to 1 (and e^{2a} would overflow past 44). The sign
/// comes back last, so tanh(−x) = −tanh(x) exactly and NaN stays NaN.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs().min(10.0);
    let a2 = a * a;
    // x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 − …, in powers of a²
    let p = -929_569.0 / 638_512_875.0;
    let p = p * a2 + 21_844.0 / 6_081_075.0;
    let p = p * a2 - 1_382.0 / 155_925.0;
    let p = p * a2 + 62.0 / 2_835.0;
    let p = p * a2 - 17.0 / 315.0;
    let p = p * a2 + 2.0 / 15.0;
    let p = p * a2 - 1.0 / 3.0;
    let series = (p * a2) * a + a;
    let e = exp_f32(2.0 * a);
    let ratio = (e - 1.0) / (e + 1.0);
    let t = if a < 0.5 { series } else { ratio };
    if x.is_nan() { x } else { t.copysign(x) }
}
