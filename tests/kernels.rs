//! The matrix kernels against a plain f64 loop: every kernel path (each one run
//! explicitly with `sgemm_with`), random shapes with ragged edges, all transposes,
//! alpha/beta corner cases, padded leading dimensions, threads, the batched form,
//! and the argument checks.
//!
//! A kernel this CPU cannot run is skipped with a loud note on stdout (see it
//! with `cargo test --release --test kernels -- --nocapture`).

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::kernels::{self, Batched, Epilogue, Gemm, Kernel};

/// Sizes around the tile edges of every kernel (4, 6, 8, 12, 16, 32 wide) and the
/// block sizes.
const SIZES: [usize; 13] = [1, 2, 7, 15, 16, 17, 31, 33, 63, 65, 127, 129, 257];

/// One product to test, with its stored operands.
struct Case {
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    beta: f32,
    a: Vec<f32>,
    lda: usize,
    b: Vec<f32>,
    ldb: usize,
    c: Vec<f32>,
    ldc: usize,
}

fn uniform(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

impl Case {
    fn random(rng: &mut StdRng, m: usize, n: usize, k: usize) -> Case {
        let (ta, tb) = (rng.random_range(0..2) == 1, rng.random_range(0..2) == 1);
        let alpha = [1.0, 0.0, -0.75, 2.5][rng.random_range(0..4)];
        let beta = [0.0, 1.0, 0.5, -1.25][rng.random_range(0..4)];
        // Stored shapes, with leading dimensions 0 to 3 larger than the width.
        let (ar, ac) = if ta { (k, m) } else { (m, k) };
        let (br, bc) = if tb { (n, k) } else { (k, n) };
        // (BLAS asks ld ≥ 1 even for an empty matrix.)
        let lda = ac.max(1) + rng.random_range(0..4);
        let ldb = bc.max(1) + rng.random_range(0..4);
        let ldc = n.max(1) + rng.random_range(0..4);
        let a = uniform(rng, ar * lda);
        let b = uniform(rng, br * ldb);
        // beta == 0 must ignore C entirely, so fill it with NaN then.
        let c = if beta == 0.0 {
            vec![f32::NAN; m * ldc]
        } else {
            uniform(rng, m * ldc)
        };
        Case {
            ta,
            tb,
            m,
            n,
            k,
            alpha,
            beta,
            a,
            lda,
            b,
            ldb,
            c,
            ldc,
        }
    }

    /// What the case computes, as the kernels take it.
    fn gemm(&self) -> Gemm<f32> {
        Gemm {
            m: self.m,
            n: self.n,
            k: self.k,
            alpha: self.alpha,
            beta: self.beta,
            trans_a: self.ta,
            trans_b: self.tb,
            lda: Some(self.lda),
            ldb: Some(self.ldb),
            ldc: Some(self.ldc),
        }
    }

    fn describe(&self) -> String {
        format!(
            "m={} n={} k={} ta={} tb={} alpha={} beta={} lda={} ldb={} ldc={}",
            self.m, self.n, self.k, self.ta, self.tb, self.alpha, self.beta, self.lda, self.ldb, self.ldc
        )
    }

    fn at_a(&self, i: usize, p: usize) -> f64 {
        (if self.ta {
            self.a[p * self.lda + i]
        } else {
            self.a[i * self.lda + p]
        }) as f64
    }

    fn at_b(&self, p: usize, j: usize) -> f64 {
        (if self.tb {
            self.b[j * self.ldb + p]
        } else {
            self.b[p * self.ldb + j]
        }) as f64
    }

    /// The expected C in f64 and, per element, the scale of the terms summed
    /// (Σ|alpha·a·b| + |beta·c|) that rounding errors are relative to.
    fn reference(&self) -> (Vec<f64>, Vec<f64>) {
        let (mut want, mut scale) = (vec![0.0; self.m * self.n], vec![0.0; self.m * self.n]);
        let (alpha, beta) = (self.alpha as f64, self.beta as f64);
        for i in 0..self.m {
            for j in 0..self.n {
                let (mut dot, mut abs) = (0.0, 0.0);
                for p in 0..self.k {
                    let t = self.at_a(i, p) * self.at_b(p, j);
                    dot += t;
                    abs += t.abs();
                }
                let old = self.c[i * self.ldc + j] as f64;
                let (kept, kept_abs) = if beta == 0.0 {
                    (0.0, 0.0)
                } else {
                    (beta * old, (beta * old).abs())
                };
                want[i * self.n + j] = alpha * dot + kept;
                scale[i * self.n + j] = alpha.abs() * abs + kept_abs;
            }
        }
        (want, scale)
    }

    /// Runs the case on `kernel` with `threads` threads and checks every element
    /// of C, including the padding columns between `n` and `ldc`, which must be
    /// left exactly as they were.
    fn check(&self, kernel: Kernel, threads: usize) {
        let (want, scale) = self.reference();
        let mut c = self.c.clone();
        kernels::sgemm_with(kernel, threads, &self.gemm(), &self.a, &self.b, &mut c);
        // Rounding error grows like √k for random signs; 4 ε √k relative to the
        // summed magnitudes is far below any real bug (a missed or doubled term).
        let tol = 4.0 * f32::EPSILON as f64 * ((self.k + 1) as f64).sqrt();
        for i in 0..self.m {
            for j in 0..self.ldc {
                let got = c[i * self.ldc + j];
                if j >= self.n {
                    let old = self.c[i * self.ldc + j];
                    assert!(
                        got.to_bits() == old.to_bits(),
                        "{kernel}, {threads} thread(s), {}: wrote C[{i}][{j}] outside the {}-wide matrix ({old} -> {got})",
                        self.describe(),
                        self.n
                    );
                    continue;
                }
                let (w, s) = (want[i * self.n + j], scale[i * self.n + j]);
                assert!(
                    (got as f64 - w).abs() <= tol * s + 1e-30,
                    "{kernel}, {threads} thread(s), {}: C[{i}][{j}] = {got}, expected {w} (tolerance {})",
                    self.describe(),
                    tol * s
                );
            }
        }
    }
}

/// `true` if this CPU runs `kernel`; otherwise prints a skip note that cannot be
/// missed in `--nocapture` output.
fn runnable(kernel: Kernel) -> bool {
    if kernel.is_available() {
        return true;
    }
    println!(
        "\n*** SKIPPED: the {kernel} kernel cannot run on this CPU (available here: {:?}); \
         its tests did NOT run. ***\n",
        kernels::available()
    );
    false
}

/// Random cases on `kernel`: shapes drawn from SIZES, then the ones that stress
/// each edge on its own (one dimension 1, the others large).
fn randomized(kernel: Kernel, seed: u64) {
    if !runnable(kernel) {
        return;
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let pick = |rng: &mut StdRng| SIZES[rng.random_range(0..SIZES.len())];
    for _ in 0..120 {
        let (m, n, k) = (pick(&mut rng), pick(&mut rng), pick(&mut rng));
        Case::random(&mut rng, m, n, k).check(kernel, 1);
    }
    // Every transpose combination and every alpha/beta corner on a ragged shape.
    for ta in [false, true] {
        for tb in [false, true] {
            for (alpha, beta) in [
                (1.0, 0.0),
                (1.0, 1.0),
                (0.0, 0.5),
                (0.0, 0.0),
                (-0.5, 2.0),
                (1.5, 0.0),
            ] {
                let mut case = Case::random(&mut rng, 33, 31, 65);
                case.alpha = alpha;
                case.beta = beta;
                case.c = if beta == 0.0 {
                    vec![f32::NAN; 33 * case.ldc]
                } else {
                    uniform(&mut rng, 33 * case.ldc)
                };
                (case.ta, case.tb) = (ta, tb);
                // Re-shape the stored operands for the chosen transposes.
                let (ar, ac) = if ta { (65, 33) } else { (33, 65) };
                let (br, bc) = if tb { (31, 65) } else { (65, 31) };
                case.lda = ac + 2;
                case.ldb = bc + 1;
                case.a = uniform(&mut rng, ar * case.lda);
                case.b = uniform(&mut rng, br * case.ldb);
                case.check(kernel, 1);
            }
        }
    }
    // A stored transposed, its stored rows just under and at 1 KiB apart: read
    // in place, then packed (a weight's gradient dZᵀ·X), over two K blocks.
    for lda in [255, 256, 1030] {
        let mut case = Case::random(&mut rng, 200, 40, 300);
        case.ta = true;
        case.lda = lda;
        case.a = uniform(&mut rng, 300 * lda);
        case.check(kernel, 1);
    }
    // B stored transposed (copied into panels by a vector transpose where the
    // kernel has one): whole and partial groups of 8 columns and steps, over
    // two K blocks, with padded rows.
    for (n, k, ldb) in [(40, 300, 301), (16, 8, 8), (23, 13, 17), (64, 16, 192)] {
        let mut case = Case::random(&mut rng, 50, n, k);
        case.tb = true;
        case.ldb = ldb;
        case.b = uniform(&mut rng, n * ldb);
        case.check(kernel, 1);
    }
    // k = 0 (C = beta·C) and empty products.
    for (m, n, k) in [
        (5, 7, 0),
        (0, 7, 5),
        (5, 0, 7),
        (1, 1, 1),
        (257, 1, 129),
        (1, 257, 129),
    ] {
        Case::random(&mut rng, m, n, k).check(kernel, 1);
    }
    // Large enough to be split over two threads, by rows and by columns.
    for (m, n, k) in [(257, 129, 127), (33, 1000, 129)] {
        Case::random(&mut rng, m, n, k).check(kernel, 2);
    }
}

#[test]
fn scalar_matches_reference() {
    randomized(Kernel::Scalar, 1);
}

#[test]
fn avx2_matches_reference() {
    randomized(Kernel::Avx2, 2);
}

#[test]
fn avx512_matches_reference() {
    randomized(Kernel::Avx512, 3);
}

#[test]
fn neon_matches_reference() {
    randomized(Kernel::Neon, 4);
}

/// Products of one to four rows (a generated token times a weight matrix) take
/// their own path, which reads B in place; five rows are past it. Every
/// transpose, a random α, β and padding per case, wide and deep, two threads
/// asked for.
#[test]
fn products_of_one_to_four_rows_match_reference() {
    let mut rng = StdRng::seed_from_u64(7);
    for kernel in kernels::available() {
        for m in 1..=5 {
            for (n, k) in [(1, 1), (384, 128), (51, 517), (3, 1000)] {
                for ta in [false, true] {
                    for tb in [false, true] {
                        let mut case = Case::random(&mut rng, m, n, k);
                        // Re-draw the operands for the chosen transposes.
                        let (ar, ac) = if ta { (k, m) } else { (m, k) };
                        let (br, bc) = if tb { (n, k) } else { (k, n) };
                        (case.ta, case.tb, case.lda, case.ldb) = (ta, tb, ac + 1, bc + 3);
                        case.a = uniform(&mut rng, ar * case.lda);
                        case.b = uniform(&mut rng, br * case.ldb);
                        case.check(kernel, 2);
                    }
                }
            }
        }
    }
}

#[test]
fn the_default_path_matches_reference() {
    let mut rng = StdRng::seed_from_u64(5);
    for (m, n, k) in [(64, 64, 64), (17, 129, 33), (130, 70, 300)] {
        let case = Case::random(&mut rng, m, n, k);
        let (want, _) = case.reference();
        let mut c = case.c.clone();
        kernels::sgemm(&case.gemm(), &case.a, &case.b, &mut c);
        for i in 0..m {
            for j in 0..n {
                let (got, w) = (c[i * case.ldc + j] as f64, want[i * n + j]);
                assert!(
                    (got - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{}: C[{i}][{j}]",
                    case.describe()
                );
            }
        }
    }
}

#[test]
fn two_threads_equal_one_thread() {
    let mut rng = StdRng::seed_from_u64(6);
    for kernel in kernels::available() {
        for (m, n, k) in [(384, 320, 300), (40, 1500, 200)] {
            let case = Case::random(&mut rng, m, n, k);
            let run = |threads| {
                let mut c = case.c.clone();
                kernels::sgemm_with(kernel, threads, &case.gemm(), &case.a, &case.b, &mut c);
                c
            };
            let (one, two) = (run(1), run(2));
            for (idx, (x, y)) in one.iter().zip(&two).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-5 * (1.0 + x.abs()) || (x.is_nan() && y.is_nan()),
                    "{kernel}: element {idx}: 1 thread {x}, 2 threads {y}, {}",
                    case.describe()
                );
            }
        }
    }
}

/// The epilogue (`sgemm_then`: + bias per column, then ReLU) against the
/// same kernel's plain product followed by a plain loop over C, bit for bit:
/// on every path of the loop nest (few rows, k = 0, α = 0, ragged tiles of
/// every width the kernels special-case, two K blocks, several column blocks,
/// two threads cut by rows and by columns), and C's padding columns untouched.
#[test]
fn the_epilogue_equals_a_plain_pass_after_the_product() {
    let mut rng = StdRng::seed_from_u64(11);
    let shapes = [
        (1, 17, 5),
        (4, 33, 7),
        (5, 7, 0),
        (33, 31, 65),
        (64, 512, 128),
        (200, 40, 600),
        (257, 129, 127),
        (33, 1000, 129),
        (7, 4200, 3),
        // Last tiles 12 and 16 columns wide (AVX2's and AVX-512's narrower
        // tiles), and a single panel, which two threads cut by rows.
        (40, 28, 33),
        (40, 48, 33),
        (257, 12, 2000),
    ];
    // A stored transposed with rows 256 apart is packed, so two threads
    // cut this one by rows too (each packs only its own rows).
    let by_rows = (257, 129, 127);
    for kernel in kernels::available() {
        for (m, n, k) in shapes.into_iter().chain([by_rows]) {
            for (with_bias, relu) in [(true, false), (false, true), (true, true)] {
                for threads in [1, 2] {
                    let mut case = Case::random(&mut rng, m, n, k);
                    if (m, n, k) == by_rows {
                        (case.ta, case.lda) = (true, 300);
                        case.a = uniform(&mut rng, k * case.lda);
                    }
                    if rng.random_range(0..4) == 0 {
                        case.alpha = 0.0;
                    }
                    let bias = uniform(&mut rng, n);
                    let epilogue = Epilogue {
                        bias: with_bias.then_some(&bias[..]),
                        relu,
                    };
                    let mut want = case.c.clone();
                    kernels::sgemm_with(kernel, threads, &case.gemm(), &case.a, &case.b, &mut want);
                    for i in 0..m {
                        for j in 0..n {
                            let mut v = want[i * case.ldc + j];
                            if with_bias {
                                v += bias[j];
                            }
                            if relu {
                                v = if v > 0.0 { v } else { 0.0 };
                            }
                            want[i * case.ldc + j] = v;
                        }
                    }
                    let mut got = case.c.clone();
                    kernels::sgemm_then_with(
                        kernel,
                        threads,
                        &case.gemm(),
                        epilogue,
                        &case.a,
                        &case.b,
                        &mut got,
                    );
                    for (idx, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            g.to_bits() == w.to_bits(),
                            "{kernel}, {threads} thread(s), bias {with_bias}, relu {relu}, {}: C[{}][{}] = {g}, expected {w}",
                            case.describe(),
                            idx / case.ldc,
                            idx % case.ldc
                        );
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "sgemm_then: the bias has 3 values for the 2 columns of C")]
fn a_bias_of_the_wrong_length_panics() {
    let epilogue = Epilogue {
        bias: Some(&[1.0, 2.0, 3.0][..]),
        relu: false,
    };
    kernels::sgemm_then(&Gemm::new(2, 2, 2), epilogue, &[0.0; 4], &[0.0; 4], &mut [0.0; 4]);
}

/// The batched form against one `sgemm_with` per entry, with distinct, shared
/// (stride 0) and padded operands, and sums into one C (stride_c = 0, β
/// applied with the first entry only).
#[test]
fn batched_matches_one_product_per_entry() {
    let mut rng = StdRng::seed_from_u64(7);
    for kernel in kernels::available() {
        for threads in [1, 2] {
            for &(batch, m, n, k, ta, tb) in &[
                (6, 33, 17, 65, false, true),
                (4, 64, 64, 64, true, false),
                (3, 7, 130, 9, false, false),
            ] {
                let (ar, ac) = if ta { (k, m) } else { (m, k) };
                let (br, bc) = if tb { (n, k) } else { (k, n) };
                let (lda, ldb, ldc) = (ac + 1, bc, n + 3);
                let (sa, sc) = (ar * lda + 5, m * ldc + 2);
                for sb in [br * ldb, 0] {
                    let a = uniform(&mut rng, (batch - 1) * sa + ar * lda);
                    let b = uniform(&mut rng, (batch - 1) * sb + br * ldb);
                    for (beta, stride_c) in [(0.0, sc), (0.5, sc), (1.0, 0), (0.0, 0), (0.5, 0)] {
                        let c0 = uniform(&mut rng, (batch - 1) * stride_c + m * ldc);
                        let p = Gemm {
                            m,
                            n,
                            k,
                            alpha: 0.5,
                            beta,
                            trans_a: ta,
                            trans_b: tb,
                            lda: Some(lda),
                            ldb: Some(ldb),
                            ldc: Some(ldc),
                        };
                        let entries = Batched {
                            count: batch,
                            stride_a: sa,
                            stride_b: sb,
                            stride_c,
                        };
                        let mut got = c0.clone();
                        kernels::sgemm_batched_with(kernel, threads, &p, &entries, &a, &b, &mut got);
                        let mut want = c0.clone();
                        for i in 0..batch {
                            let c_i = &mut want[i * stride_c..];
                            // Summed into one C, β applies with the first entry only.
                            let p_i = if stride_c == 0 && i > 0 {
                                Gemm { beta: 1.0, ..p }
                            } else {
                                p
                            };
                            kernels::sgemm_with(kernel, 1, &p_i, &a[i * sa..], &b[i * sb..], c_i);
                        }
                        for (idx, (x, y)) in got.iter().zip(&want).enumerate() {
                            assert!(
                                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                                "{kernel}, {threads} threads, batch {batch} {m}×{n}×{k} sb={sb} \
                                 stride_c={stride_c}: element {idx}: {x} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn kernel_names_and_selection() {
    for k in Kernel::ALL {
        assert_eq!(Kernel::from_name(k.name()), Some(k));
    }
    assert_eq!(Kernel::from_name("AVX2"), Some(Kernel::Avx2));
    assert_eq!(Kernel::from_name("sse"), None);
    let available = kernels::available();
    assert!(available.contains(&Kernel::Scalar));
    assert!(available.contains(&kernels::selected()));
    println!(
        "kernels available here: {available:?}; selected: {}",
        kernels::selected()
    );
}

#[test]
#[should_panic(expected = "sgemm: A is 2×3 with lda = 3, which needs 6 elements, but the slice has 5")]
fn short_a_panics() {
    let mut c = [0.0; 4];
    kernels::sgemm(&Gemm::new(2, 2, 3), &[0.0; 5], &[0.0; 6], &mut c);
}

#[test]
#[should_panic(expected = "sgemm: ldc = 1 is smaller than the row length 2 of C (2×2 as stored)")]
fn small_ldc_panics() {
    let mut c = [0.0; 4];
    kernels::sgemm(&Gemm::new(2, 2, 3).ldc(1), &[0.0; 6], &[0.0; 6], &mut c);
}

#[test]
#[should_panic(expected = "sgemm: B is 3×2 with ldb = 2, which needs 6 elements, but the slice has 4")]
fn short_transposed_b_panics() {
    let mut c = [0.0; 6];
    kernels::sgemm(&Gemm::new(2, 3, 2).transpose_b(), &[0.0; 4], &[0.0; 4], &mut c);
}

#[test]
#[should_panic(expected = "sgemm_batched: stride_c = 3 is smaller than the 4 elements of one C")]
fn overlapping_batched_c_panics() {
    let mut c = [0.0; 16];
    kernels::sgemm_batched(&Gemm::new(2, 2, 2), &OVERLAPPING, &[0.0; 4], &[0.0; 4], &mut c);
}

#[test]
#[should_panic(expected = "sgemm_batched (entry 2 of 0..3): A is 2×2 with lda = 2, which needs 4 elements")]
fn short_batched_a_panics() {
    let mut c = [0.0; 12];
    kernels::sgemm_batched(&Gemm::new(2, 2, 2), &SHORT_A, &[0.0; 11], &[0.0; 4], &mut c);
}

#[test]
fn unavailable_kernel_panics_with_the_choices() {
    let Some(&missing) = Kernel::ALL.iter().find(|k| !k.is_available()) else {
        println!("*** SKIPPED: every kernel runs on this CPU, none to refuse ***");
        return;
    };
    let err = std::panic::catch_unwind(|| {
        let mut c = [0.0; 1];
        kernels::sgemm_with(missing, 1, &Gemm::new(1, 1, 1), &[1.0], &[1.0], &mut c);
    })
    .expect_err("running a kernel this CPU lacks must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains(&format!("cannot run the {missing} kernel")), "{msg}");
    assert!(msg.contains("available here: scalar"), "{msg}");
}

#[test]
#[should_panic(expected = "the thread count must be at least 1")]
fn zero_threads_panics() {
    let mut c = [0.0; 1];
    kernels::sgemm_with(Kernel::Scalar, 0, &Gemm::new(1, 1, 1), &[1.0], &[1.0], &mut c);
}

/// Three entries of C 3 apart, each 2×2: they would overlap.
const OVERLAPPING: Batched = Batched {
    count: 3,
    stride_a: 0,
    stride_b: 0,
    stride_c: 3,
};

/// Three entries of A 4 apart, each 2×2 (the last needs 12 elements).
const SHORT_A: Batched = Batched {
    count: 3,
    stride_a: 4,
    stride_b: 0,
    stride_c: 4,
};

/// Runs this test binary again with `SHORTMEM_KERNEL` set, on the ignored helper
/// below, and returns its combined output and success.
fn with_forced_kernel(value: &str) -> (bool, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "print_selected_kernel",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SHORTMEM_KERNEL", value)
        .output()
        .expect("could not rerun the test binary");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
#[ignore = "helper run by shortmem_kernel_env_forces_or_refuses in a child process"]
fn print_selected_kernel() {
    let mut c = [0.0; 1];
    kernels::sgemm(&Gemm::new(1, 1, 1), &[2.0], &[3.0], &mut c);
    assert_eq!(c[0], 6.0);
    println!("selected kernel: {}", kernels::selected());
}

#[test]
fn shortmem_kernel_env_forces_or_refuses() {
    let (ok, text) = with_forced_kernel("scalar");
    assert!(ok && text.contains("selected kernel: scalar"), "{text}");
    let (ok, text) = with_forced_kernel("sse9");
    assert!(
        !ok && text.contains("SHORTMEM_KERNEL=\"sse9\": unknown kernel"),
        "{text}"
    );
    assert!(text.contains("available here: scalar"), "{text}");
    if let Some(missing) = Kernel::ALL.iter().find(|k| !k.is_available()) {
        let (ok, text) = with_forced_kernel(missing.name());
        assert!(
            !ok && text.contains(&format!("cannot run the {missing} kernel")),
            "{text}"
        );
    }
}

/// The message of the panic `f` raises.
fn panic_message(f: impl FnOnce()) -> String {
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// k = 0: every entry's C becomes beta·C (zeros for beta = 0, even over NaN), with
/// empty A and B slices whose strides point past their ends, in f64 exactly as
/// in f32; C's padding columns and the gaps between entries are left alone.
#[test]
fn dgemm_batched_with_k_0_scales_c_like_sgemm_batched() {
    let (batch, m, n, ldc, stride_c) = (3, 2, 3, 4, 9);
    let len = (batch - 1) * stride_c + m * ldc;
    for beta in [0.0, 0.5] {
        let c0: Vec<f64> = (0..len)
            .map(|i| if beta == 0.0 { f64::NAN } else { i as f64 + 1.0 })
            .collect();
        // Strides of A and B that point past their (empty) ends.
        let entries = Batched {
            count: batch,
            stride_a: 4,
            stride_b: 5,
            stride_c,
        };
        let mut c64 = c0.clone();
        let p64 = Gemm::new(m, n, 0).alpha(2.0).beta(beta).ldc(ldc);
        kernels::dgemm_batched(&p64, &entries, &[], &[], &mut c64);
        let mut c32: Vec<f32> = c0.iter().map(|&v| v as f32).collect();
        let p32 = Gemm::new(m, n, 0).alpha(2.0).beta(beta as f32).ldc(ldc);
        kernels::sgemm_batched(&p32, &entries, &[], &[], &mut c32);
        for idx in 0..len {
            let (entry, within) = (idx / stride_c, idx % stride_c);
            let in_c = entry < batch && within < m * ldc && within % ldc < n;
            let want = if !in_c {
                c0[idx]
            } else if beta == 0.0 {
                0.0
            } else {
                beta * c0[idx]
            };
            for (what, got) in [("dgemm_batched", c64[idx]), ("sgemm_batched", c32[idx] as f64)] {
                assert!(
                    got == want || (got.is_nan() && want.is_nan()),
                    "{what}, k = 0, beta = {beta}: element {idx} is {got}, expected {want}"
                );
            }
        }
    }
}

#[test]
fn dgemm_batched_overlap_panics_like_sgemm_batched() {
    let f32_msg = panic_message(|| {
        let mut c = [0.0f32; 16];
        kernels::sgemm_batched(&Gemm::new(2, 2, 2), &OVERLAPPING, &[0.0; 4], &[0.0; 4], &mut c);
    });
    let f64_msg = panic_message(|| {
        let mut c = [0.0f64; 16];
        kernels::dgemm_batched(&Gemm::new(2, 2, 2), &OVERLAPPING, &[0.0; 4], &[0.0; 4], &mut c);
    });
    assert!(
        f64_msg.starts_with("dgemm_batched: stride_c = 3 is smaller than the 4 elements of one C"),
        "{f64_msg}"
    );
    assert_eq!(f64_msg, f32_msg.replace("sgemm_batched", "dgemm_batched"));
}

#[test]
#[should_panic(expected = "dgemm_batched (entry 2 of 0..3): A is 2×2 with lda = 2, which needs 4 elements")]
fn short_dgemm_batched_a_panics_with_the_entry() {
    let mut c = [0.0f64; 12];
    kernels::dgemm_batched(&Gemm::new(2, 2, 2), &SHORT_A, &[0.0; 11], &[0.0; 4], &mut c);
}

/// A panic inside `with_threads` must not leave this thread's limit changed.
#[test]
fn with_threads_restores_the_limit_after_a_panic() {
    let before = shortmem::threads::threads();
    let limit = before + 2;
    let msg = panic_message(|| {
        shortmem::threads::with_threads(limit, || {
            assert_eq!(shortmem::threads::threads(), limit);
            panic!("inside with_threads");
        });
    });
    assert_eq!(msg, "inside with_threads");
    assert_eq!(shortmem::threads::threads(), before);
}

// ------------------------------------------------ soundness of the safe API

/// A leading dimension so large that `(rows − 1)·ld` wraps: it used to pass the
/// check and write one float before C.
#[test]
#[should_panic(
    expected = "sgemm: C is 2×1 with ldc = 18446744073709551615, which needs more than usize::MAX elements, but the slice has 2"
)]
fn a_wrapping_ldc_is_refused() {
    let mut c = [0.0f32; 2];
    kernels::sgemm(&Gemm::new(2, 1, 1).ldc(usize::MAX), &[1.0; 2], &[1.0], &mut c);
}

/// The same for A: it used to read before A's slice.
#[test]
#[should_panic(
    expected = "sgemm: A is 2×1 with lda = 18446744073709551615, which needs more than usize::MAX elements"
)]
fn a_wrapping_lda_is_refused() {
    let mut c = [0.0f32; 2];
    kernels::sgemm(&Gemm::new(2, 1, 1).lda(usize::MAX), &[1.0; 2], &[1.0], &mut c);
}

/// A batch stride so large that `last·stride_c` wraps round to a small offset:
/// it used to pass the check and write far outside C.
#[test]
#[should_panic(
    expected = "sgemm_batched: stride_c = 6148914691236517206 puts entry 3 of 0..4 at more than usize::MAX elements"
)]
fn a_wrapping_stride_c_is_refused() {
    let batch = Batched {
        count: 4,
        stride_a: 0,
        stride_b: 0,
        stride_c: 6148914691236517206,
    };
    let mut c = [0.0f32; 8];
    kernels::sgemm_batched(&Gemm::new(1, 1, 1), &batch, &[1.0], &[1.0], &mut c);
}

/// The same for A (and in f64): it used to read far outside A.
#[test]
#[should_panic(
    expected = "dgemm_batched: stride_a = 9223372036854775808 puts entry 2 of 0..3 at more than usize::MAX elements"
)]
fn a_wrapping_stride_a_is_refused() {
    let batch = Batched {
        count: 3,
        stride_a: 1 << 63,
        stride_b: 0,
        stride_c: 1,
    };
    let mut c = [0.0f64; 3];
    kernels::dgemm_batched(&Gemm::new(1, 1, 1), &batch, &[1.0; 4], &[1.0], &mut c);
}

/// A wrapping stride is harmless for an operand with no elements (k = 0): the
/// entries of A are empty, and each C becomes β·C.
#[test]
fn a_wrapping_stride_of_an_empty_operand_is_fine() {
    let batch = Batched {
        count: 3,
        stride_a: usize::MAX,
        stride_b: 0,
        stride_c: 2,
    };
    let mut c = [1.0f32; 6];
    kernels::sgemm_batched(&Gemm::new(1, 2, 0).beta(0.5), &batch, &[], &[], &mut c);
    assert_eq!(c, [0.5; 6]);
}

/// What a product needs, worked out in u128 (where nothing wraps), independently
/// of the crate: whether the arguments describe matrices inside their slices.
/// (A batch of no products touches nothing and needs nothing.)
fn fits(p: &Gemm<f32>, batch: Option<&Batched>, lens: [usize; 3]) -> bool {
    if batch.is_some_and(|b| b.count == 0) {
        return true;
    }
    let (m, n, k) = (p.m as u128, p.n as u128, p.k as u128);
    let stored = [
        if p.trans_a { (k, m) } else { (m, k) },
        if p.trans_b { (n, k) } else { (k, n) },
        (m, n),
    ];
    let lds = [p.lda, p.ldb, p.ldc];
    let strides = batch.map_or([0; 3], |b| [b.stride_a, b.stride_b, b.stride_c]);
    let last = batch.map_or(0, |b| b.count.saturating_sub(1)) as u128;
    let mut extents = [0u128; 3];
    for i in 0..3 {
        let (rows, cols) = stored[i];
        let ld = lds[i].map_or(cols.max(1), |ld| ld as u128);
        if ld < cols.max(1) {
            return false;
        }
        extents[i] = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * ld + cols
        };
        // (An empty matrix needs no room, wherever its entry would start.)
        if extents[i] > 0 && last * strides[i] as u128 + extents[i] > lens[i] as u128 {
            return false;
        }
    }
    // Entries of C may not overlap, unless they all are one C (stride 0).
    let sc = strides[2] as u128;
    batch.is_none_or(|b| b.count <= 1 || sc == 0 || sc >= extents[2])
}

/// One random value of a size, a leading dimension or a stride: mostly small,
/// sometimes 0, sometimes one of the huge values that wrap when multiplied.
fn arbitrary(rng: &mut StdRng, small: usize) -> usize {
    const HUGE: [usize; 5] = [
        usize::MAX,
        usize::MAX / 2 + 1,
        usize::MAX / 3 + 1,
        1 << 40,
        6148914691236517206,
    ];
    match rng.random_range(0..20) {
        0 => HUGE[rng.random_range(0..HUGE.len())],
        1 => 0,
        _ => rng.random_range(1..=small),
    }
}

/// The plain product of an entry, in f64, for comparison.
fn entry_reference(p: &Gemm<f32>, a: &[f32], b: &[f32], c: &[f32]) -> Vec<f64> {
    let (lda, ldb, ldc) = p.leading_dims();
    let mut out = Vec::new();
    for i in 0..p.m {
        for j in 0..p.n {
            let dot: f64 = (0..p.k)
                .map(|q| {
                    let x = if p.trans_a { a[q * lda + i] } else { a[i * lda + q] };
                    let y = if p.trans_b { b[j * ldb + q] } else { b[q * ldb + j] };
                    x as f64 * y as f64
                })
                .sum();
            let old = if p.beta == 0.0 {
                0.0
            } else {
                p.beta as f64 * c[i * ldc + j] as f64
            };
            out.push(p.alpha as f64 * dot + old);
        }
    }
    out
}

/// The safe entry points with arbitrary sizes, transposes, leading dimensions,
/// strides and slice lengths, small and huge: every call either gives the BLAS
/// result or stops with the checks' own message, never a crash or a stray
/// index panic from deep inside the kernels.
#[test]
fn the_safe_api_gives_the_blas_result_or_a_clear_error() {
    let mut rng = StdRng::seed_from_u64(12);
    let (mut computed, mut refused) = (0, 0);
    for case in 0..4000 {
        let mut p = Gemm::new(
            arbitrary(&mut rng, 9),
            arbitrary(&mut rng, 9),
            arbitrary(&mut rng, 9),
        );
        p.trans_a = rng.random_range(0..2) == 1;
        p.trans_b = rng.random_range(0..2) == 1;
        for ld in [&mut p.lda, &mut p.ldb, &mut p.ldc] {
            if rng.random_range(0..2) == 1 {
                *ld = Some(arbitrary(&mut rng, 12));
            }
        }
        p.alpha = 0.5;
        p.beta = [0.0, 1.0][rng.random_range(0..2)];
        let batch = (rng.random_range(0..3) == 0).then(|| Batched {
            count: rng.random_range(0..4),
            stride_a: arbitrary(&mut rng, 150),
            stride_b: arbitrary(&mut rng, 150),
            stride_c: arbitrary(&mut rng, 150),
        });
        let lens = [0; 3].map(|_| rng.random_range(0..400));
        let (a, b, c0) = (
            uniform(&mut rng, lens[0]),
            uniform(&mut rng, lens[1]),
            uniform(&mut rng, lens[2]),
        );
        let mut c = c0.clone();
        let kernel = kernels::available()[rng.random_range(0..kernels::available().len())];
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &batch {
            Some(batch) => kernels::sgemm_batched_with(kernel, 2, &p, batch, &a, &b, &mut c),
            None => kernels::sgemm_with(kernel, 1, &p, &a, &b, &mut c),
        }));
        let what = format!("case {case}: {p:?}, {batch:?}, slices {lens:?}, {kernel}");
        let expected = fits(&p, batch.as_ref(), lens);
        match run {
            Ok(()) => {
                assert!(expected, "{what}: accepted arguments that do not fit");
                computed += 1;
                // One entry at a time (with distinct entries of C; an accumulating
                // stride-0 batch is covered by `batched_matches_one_product_per_entry`).
                let entries = batch.map_or(1, |b| b.count);
                let strides = batch.map_or([0; 3], |b| [b.stride_a, b.stride_b, b.stride_c]);
                if strides[2] == 0 && entries > 1 {
                    continue;
                }
                let ldc = p.leading_dims().2;
                for e in 0..entries {
                    let at = |s: usize, v: &[f32]| {
                        e.checked_mul(s)
                            .and_then(|o| v.get(o..))
                            .unwrap_or_default()
                            .to_vec()
                    };
                    let want =
                        entry_reference(&p, &at(strides[0], &a), &at(strides[1], &b), &at(strides[2], &c0));
                    for (idx, w) in want.iter().enumerate() {
                        let got = c[e * strides[2] + idx / p.n * ldc + idx % p.n] as f64;
                        assert!(
                            (got - w).abs() <= 1e-4 * (1.0 + w.abs()),
                            "{what}: entry {e}, C[{idx}] = {got}, want {w}"
                        );
                    }
                }
            }
            Err(e) => {
                let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
                assert!(!expected, "{what}: refused arguments that fit: {msg}");
                assert!(
                    msg.starts_with("sgemm"),
                    "{what}: not the checks' message: {msg:?}"
                );
                refused += 1;
            }
        }
    }
    // Both outcomes must have been exercised often.
    assert!(
        computed > 300 && refused > 300,
        "{computed} computed, {refused} refused"
    );
}

// ------------------------------------------------ the self-check of a default kernel

/// Every kernel this CPU has passes the check the default choice makes (on an
/// AVX-512 machine this runs the AVX-512 kernel for real).
#[test]
fn every_available_kernel_passes_its_self_check() {
    for kernel in kernels::available() {
        assert_eq!(kernels::self_check(kernel), Ok(()), "{kernel}");
        println!("self-check passed: {kernel}");
    }
}

/// The check catches a kernel that is slightly wrong: one element off by 0.01,
/// or β ignored.
#[test]
fn the_self_check_catches_a_wrong_kernel() {
    let off_by_a_bit = |p: &Gemm<f32>, a: &[f32], b: &[f32], c: &mut [f32]| {
        kernels::sgemm_with(Kernel::Scalar, 1, p, a, b, c);
        c[0] += 0.01;
    };
    let err = kernels::check_against_portable(&off_by_a_bit).unwrap_err();
    assert!(
        err.contains("1×1×1 product") && err.contains("element 0"),
        "{err}"
    );
    let forgets_beta = |p: &Gemm<f32>, a: &[f32], b: &[f32], c: &mut [f32]| {
        kernels::sgemm_with(Kernel::Scalar, 1, &p.beta(0.0), a, b, c);
    };
    let err = kernels::check_against_portable(&forgets_beta).unwrap_err();
    assert!(err.contains("7×33×5 product"), "{err}");
    // A NaN is no closer than any other wrong number.
    let nan_in_the_last = |p: &Gemm<f32>, a: &[f32], b: &[f32], c: &mut [f32]| {
        kernels::sgemm_with(Kernel::Scalar, 1, p, a, b, c);
        if p.n == 600 {
            c[p.n + 1] = f32::NAN;
        }
    };
    let err = kernels::check_against_portable(&nan_in_the_last).unwrap_err();
    assert!(
        err.contains("40×600×300 product") && err.contains("gives NaN"),
        "{err}"
    );
}
