//! The NEON kernel, checked on an aarch64 build: `tools/check_aarch64.sh`
//! cross-compiles this program against the crate and runs it under qemu-user.
//!
//! A focused subset of `tests/kernels.rs` (which is far too slow to emulate):
//! the self-check the default choice makes; products of awkward shapes up to
//! 130×130×300 with every transpose, padded leading dimensions and α/β
//! corners, against a plain f64 loop; the batched form; and a few hundred
//! arbitrary calls that must either compute or refuse cleanly. Exits with
//! status 1 and the first disagreement if anything is off.
//!
//! Everything runs on one thread: under qemu-user 7.2 (Debian 12's) a program
//! that starts a thread hangs before the thread runs, whatever the program. The
//! code that splits products across threads is the same on every architecture
//! and is tested on the build machine (`two_threads_equal_one_thread`).

use shortmem::kernels::{self, Batched, Gemm, Kernel};

/// A small deterministic generator of numbers in (−1, 1).
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() + 1.0) * 0.5 * n as f32) as usize % n.max(1)
    }
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.next()).collect()
    }
}

/// The product in plain f64 loops.
fn reference(p: &Gemm<f32>, a: &[f32], b: &[f32], c: &[f32]) -> Vec<f64> {
    let (lda, ldb, ldc) = p.leading_dims();
    let mut out = c.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    for i in 0..p.m {
        for j in 0..p.n {
            let mut dot = 0.0;
            for q in 0..p.k {
                let x = if p.trans_a { a[q * lda + i] } else { a[i * lda + q] };
                let y = if p.trans_b { b[j * ldb + q] } else { b[q * ldb + j] };
                dot += x as f64 * y as f64;
            }
            let old = if p.beta == 0.0 { 0.0 } else { p.beta as f64 * c[i * ldc + j] as f64 };
            out[i * ldc + j] = p.alpha as f64 * dot + old;
        }
    }
    out
}

fn fail(message: String) -> ! {
    eprintln!("neon check FAILED: {message}");
    std::process::exit(1);
}

fn main() {
    let kernel = Kernel::Neon;
    if !kernel.is_available() {
        fail(format!("this build cannot run the NEON kernel (available: {:?})", kernels::available()));
    }
    if let Err(e) = kernels::self_check(kernel) {
        fail(format!("self-check: {e}"));
    }
    let mut rng = Numbers(0x2545_f491_4f6c_dd1d);
    let sizes = [1, 2, 7, 8, 12, 13, 24, 33, 65, 130];
    let mut products = 0;
    for (i, &m) in sizes.iter().enumerate() {
        for &n in &sizes[..sizes.len() - i % 3] {
            let k = [1, 5, 64, 300][(i + n) % 4];
            let mut p = Gemm::new(m, n, k)
                .alpha([1.0, -0.75, 2.5, 0.0][products % 4])
                .beta([0.0, 1.0, 0.5, -1.25][(products / 4) % 4]);
            p.trans_a = products % 2 == 1;
            p.trans_b = (products / 2) % 2 == 1;
            let ((ar, ac), (br, bc)) = (p.a_stored(), p.b_stored());
            let p = p.lda(ac + products % 3).ldb(bc + 1).ldc(n + 2);
            let (a, b) = (rng.vec(ar * (ac + 2)), rng.vec(br * (bc + 1)));
            let c0 = if p.beta == 0.0 { vec![f32::NAN; m * (n + 2)] } else { rng.vec(m * (n + 2)) };
            let want = reference(&p, &a, &b, &c0);
            {
                let mut c = c0.clone();
                kernels::sgemm_with(kernel, 1, &p, &a, &b, &mut c);
                let tol = 4.0 * f32::EPSILON as f64 * ((k + 1) as f64).sqrt() * (k as f64 + 1.0);
                for (idx, (&got, &w)) in c.iter().zip(&want).enumerate() {
                    let padding = idx % (n + 2) >= n;
                    let ok = if padding {
                        got.to_bits() == c0[idx].to_bits()
                    } else {
                        (got as f64 - w).abs() <= tol * (1.0 + w.abs())
                    };
                    if !ok {
                        fail(format!("{p:?}: C[{idx}] = {got}, want {w}"));
                    }
                }
            }
            products += 1;
        }
    }
    // The batched form against one product per entry.
    let p = Gemm::new(33, 17, 65).transpose_b().alpha(0.5);
    let batch = Batched {
        count: 4,
        stride_a: 33 * 65 + 3,
        stride_b: 0,
        stride_c: 33 * 17 + 1,
    };
    let (a, b) = (rng.vec(4 * batch.stride_a), rng.vec(17 * 65));
    let mut c = vec![0.0; 4 * batch.stride_c];
    kernels::sgemm_batched_with(kernel, 1, &p, &batch, &a, &b, &mut c);
    for e in 0..4 {
        let mut one = vec![0.0; 33 * 17];
        kernels::sgemm_with(Kernel::Scalar, 1, &p, &a[e * batch.stride_a..], &b, &mut one);
        let got = &c[e * batch.stride_c..][..33 * 17];
        if let Some(i) = (0..one.len()).find(|&i| !((got[i] - one[i]).abs() <= 1e-4 * (1.0 + one[i].abs()))) {
            fail(format!("batched entry {e}: C[{i}] = {}, the scalar kernel gives {}", got[i], one[i]));
        }
    }
    // Arbitrary calls: a result, or the checks' own panic, never a crash. (The
    // refusals are expected: their messages are not printed.)
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut refused = 0;
    for _ in 0..300 {
        let huge = [usize::MAX, usize::MAX / 2 + 1, 6148914691236517206];
        let mut pick = |small: usize| match rng.below(10) {
            0 => huge[rng.below(3)],
            1 => 0,
            _ => 1 + rng.below(small),
        };
        let mut p = Gemm::new(pick(9), pick(9), pick(9)).ldc(pick(12));
        p.trans_b = rng.below(2) == 1;
        let lens = [rng.below(300), rng.below(300), rng.below(300)];
        let (a, b, mut c) = (vec![1.0; lens[0]], vec![1.0; lens[1]], vec![0.0; lens[2]]);
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            kernels::sgemm_with(kernel, 1, &p, &a, &b, &mut c)
        }));
        if let Err(e) = run {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            if !msg.starts_with("sgemm") {
                fail(format!("{p:?}: not the checks' message: {msg:?}"));
            }
            refused += 1;
        }
    }
    std::panic::set_hook(quiet);
    println!(
        "neon check passed: self-check, {products} products against f64 loops, a batch of 4, 300 arbitrary calls ({refused} refused cleanly)"
    );
}
