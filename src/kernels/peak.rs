//! A probe of the core's FMA throughput: the ceiling any matrix kernel can reach.
//!
//! It runs a loop of independent fused multiply-adds on registers only (no memory
//! traffic), twelve chains for AVX2 and NEON and sixteen for AVX-512, enough to
//! cover the FMA latency times the number of FMA pipes on the cores we know. The
//! benchmarks quote each kernel's speed as a percentage of this figure.

use super::Kernel;
use std::time::Instant;

/// Measured peak single-thread GFLOP/s of `kernel`'s FMA instructions (one FMA
/// counts as two flops), the best of a few runs of about 50 ms; `None` for the
/// scalar kernel or a kernel this CPU lacks.
pub fn fma_peak_gflops(kernel: Kernel) -> Option<f64> {
    if !kernel.is_available() {
        return None;
    }
    let (flops_per_iter, run): (f64, fn(u64) -> f32) = match kernel {
        Kernel::Scalar => return None,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => (12.0 * 8.0 * 2.0, |iters| {
            // SAFETY: `is_available` has checked AVX2 and FMA.
            unsafe { x86::fma_chains_avx2(iters) }
        }),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => (16.0 * 16.0 * 2.0, |iters| {
            // SAFETY: `is_available` has checked AVX-512F.
            unsafe { x86::fma_chains_avx512(iters) }
        }),
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => (12.0 * 4.0 * 2.0, |iters| {
            // SAFETY: NEON is part of every aarch64 CPU.
            unsafe { arm::fma_chains_neon(iters) }
        }),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    // Size the run to about 50 ms, then keep the best of five.
    let mut iters = 1u64 << 16;
    loop {
        let start = Instant::now();
        std::hint::black_box(run(iters));
        if start.elapsed().as_secs_f64() > 0.01 {
            break;
        }
        iters *= 2;
    }
    iters *= 5;
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run(std::hint::black_box(iters)));
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    Some(iters as f64 * flops_per_iter / best / 1e9)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// `iters` rounds of 12 independent `x = x·0.5 + 1` chains on 8-lane vectors
    /// (the values settle at 2, so no overflow or denormals slow anything down).
    ///
    /// # Safety
    /// AVX2 and FMA are available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fma_chains_avx2(iters: u64) -> f32 {
        let (half, one) = (_mm256_set1_ps(0.5), _mm256_set1_ps(1.0));
        let mut x = [one; 12];
        for _ in 0..iters {
            for v in &mut x {
                *v = _mm256_fmadd_ps(*v, half, one);
            }
        }
        let sum = x.iter().fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
        _mm256_cvtss_f32(sum)
    }

    /// As [`fma_chains_avx2`] with 16 chains of 16-lane vectors.
    ///
    /// # Safety
    /// AVX-512F is available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fma_chains_avx512(iters: u64) -> f32 {
        let (half, one) = (_mm512_set1_ps(0.5), _mm512_set1_ps(1.0));
        let mut x = [one; 16];
        for _ in 0..iters {
            for v in &mut x {
                *v = _mm512_fmadd_ps(*v, half, one);
            }
        }
        let sum = x.iter().fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v));
        _mm512_reduce_add_ps(sum)
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    /// `iters` rounds of 12 independent `x = x·0.5 + 1` chains on 4-lane vectors.
    ///
    /// # Safety
    /// None beyond running on aarch64 (NEON is mandatory there).
    #[target_feature(enable = "neon")]
    pub(super) unsafe fn fma_chains_neon(iters: u64) -> f32 {
        let (half, one) = (vdupq_n_f32(0.5), vdupq_n_f32(1.0));
        let mut x = [one; 12];
        for _ in 0..iters {
            for v in &mut x {
                *v = vfmaq_f32(one, *v, half);
            }
        }
        let sum = x.iter().fold(vdupq_n_f32(0.0), |s, &v| vaddq_f32(s, v));
        vaddvq_f32(sum)
    }
}
