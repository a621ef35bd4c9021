//! Matrix-product speed: shortmem's kernels against the naive loop and two Rust
//! GEMM crates (`matrixmultiply` with `threading`, `gemm` with `x86-v4`), on
//! square sizes and the shapes the models multiply, on 1 and 2 threads.
//!
//!     cargo bench --bench matmul                  # criterion, GFLOP/s as "Gelem/s"
//!     cargo bench --bench matmul -- --table       # the README's table, one command
//!     cargo bench --bench matmul -- --peak        # the FMA peak probe alone
//!
//! Every product is `C = A·B` (no transposes, beta = 0), row-major, `m×k` times
//! `k×n`; shapes are written `m×k×n`. Speeds are GFLOP/s = 2·m·n·k / time. The
//! table also gives shortmem's speed as a percentage of the FMA peak that
//! `kernels::fma_peak_gflops` measures on this core (times the thread count).
//!
//! `matrixmultiply` reads its thread count once per process from
//! `MATMUL_NUM_THREADS`, so `--table` runs this binary once per thread count with
//! that variable set, one child per shape and thread count, each started only
//! once `/proc/stat` shows the machine idle: another busy process on one of the
//! cores ruins the 2-thread figures.

use criterion::{BenchmarkId, Criterion, Throughput};
use shortmem::kernels::{self, Batched, Gemm, Kernel};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A product shape, `m×k` times `k×n`.
#[derive(Clone, Copy)]
struct Shape {
    m: usize,
    k: usize,
    n: usize,
}

impl Shape {
    fn flops(self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64
    }

    fn label(self) -> String {
        if self.m == self.k && self.k == self.n {
            format!("{}³", self.m)
        } else {
            format!("{}×{}×{}", self.m, self.k, self.n)
        }
    }
}

const fn sq(s: usize) -> Shape {
    Shape { m: s, k: s, n: s }
}

/// Square sizes, then the models' products (m×k×n).
const SHAPES: [Shape; 10] = [
    sq(32),
    sq(64),
    sq(128),
    sq(256),
    sq(512),
    sq(1024),
    Shape {
        m: 1024,
        k: 64,
        n: 256,
    },
    Shape {
        m: 64,
        k: 256,
        n: 1024,
    },
    Shape {
        m: 1024,
        k: 128,
        n: 384,
    },
    Shape {
        m: 1024,
        k: 512,
        n: 128,
    },
];

/// Something that multiplies matrices.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Impl {
    /// The three-loop i-k-j reference (`kernels::gemm_reference`), one thread.
    Naive,
    Shortmem(Kernel),
    MatrixMultiply,
    Gemm,
}

impl Impl {
    fn name(self) -> String {
        match self {
            Impl::Naive => "naive".into(),
            Impl::Shortmem(k) => format!("shortmem-{k}"),
            Impl::MatrixMultiply => "matrixmultiply".into(),
            Impl::Gemm => "gemm".into(),
        }
    }

    /// Every implementation to measure on `threads` threads.
    fn all(threads: usize) -> Vec<Impl> {
        let mut v = Vec::new();
        if threads == 1 {
            v.push(Impl::Naive);
        }
        v.extend(kernels::available().into_iter().map(Impl::Shortmem));
        v.extend([Impl::MatrixMultiply, Impl::Gemm]);
        v
    }

    /// `c = a·b` for `shape` (`a·bᵀ`, b stored n×k, when `tb`).
    /// `matrixmultiply` uses `MATMUL_NUM_THREADS` threads.
    fn run(self, threads: usize, s: Shape, tb: bool, a: &[f32], b: &[f32], c: &mut [f32]) {
        let (m, k, n) = (s.m, s.k, s.n);
        let product = if tb {
            Gemm::new(m, n, k).transpose_b()
        } else {
            Gemm::new(m, n, k)
        };
        // B's (row, column) strides as op(B), for the peers.
        let (rsb, csb) = if tb { (1, k as isize) } else { (n as isize, 1) };
        match self {
            Impl::Naive => kernels::gemm_reference(&product, a, b, c),
            Impl::Shortmem(kernel) => kernels::sgemm_with(kernel, threads, &product, a, b, c),
            // SAFETY: the peer's raw-pointer API; a, b, c hold m×k, k×n and m×n
            // row-major matrices with the strides given, and c is exclusive.
            Impl::MatrixMultiply => unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr(),
                    k as isize,
                    1,
                    b.as_ptr(),
                    rsb,
                    csb,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            // SAFETY: as above. gemm computes dst = alpha·dst + beta·lhs·rhs, and
            // read_dst = false makes it ignore the old dst.
            Impl::Gemm => unsafe {
                let par = if threads == 1 {
                    gemm::Parallelism::None
                } else {
                    gemm::Parallelism::Rayon(threads)
                };
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    a.as_ptr(),
                    1,
                    k as isize,
                    b.as_ptr(),
                    csb,
                    rsb,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    par,
                )
            },
        }
    }
}

/// `BENCH_TRANS_B=1` multiplies by Bᵀ instead (B stored n×k), the product of a
/// `Linear` layer and of attention scores.
fn trans_b() -> bool {
    std::env::var("BENCH_TRANS_B").is_ok_and(|v| v == "1")
}

fn operands(s: Shape) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let fill = |len: usize, seed: usize| {
        (0..len)
            .map(|i| ((i * 7 + seed) % 13) as f32 / 13.0 - 0.5)
            .collect()
    };
    (fill(s.m * s.k, 1), fill(s.k * s.n, 2), vec![0.0; s.m * s.n])
}

/// Median seconds per call of `f`, from samples of at least ~15 ms each.
fn median_secs(mut f: impl FnMut(), budget: Duration) -> f64 {
    f(); // warm up: caches, packing buffers, worker threads
    let start = Instant::now();
    f();
    let one = start.elapsed().as_secs_f64().max(1e-7);
    let per_sample = ((0.015 / one).ceil() as usize).max(1);
    let samples = ((budget.as_secs_f64() / (one * per_sample as f64)) as usize).clamp(3, 15);
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_sample {
                f();
            }
            t.elapsed().as_secs_f64() / per_sample as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    // BENCH_STAT=min (for tuning on a noisy machine) takes the best sample.
    if std::env::var("BENCH_STAT").is_ok_and(|v| v == "min") {
        times[0]
    } else {
        times[times.len() / 2]
    }
}

/// `--table-run T`: measures everything on T threads and prints one
/// `row|shape|impl|gflops` line per result, for the parent `--table` to collect.
/// `--only NAME,NAME` and `--shapes I,J` (indices into `SHAPES`, or `batched`)
/// narrow it down while tuning.
fn table_run(threads: usize, args: &[String]) {
    let list = |flag: &str| -> Option<Vec<String>> {
        let i = args.iter().position(|a| a == flag)?;
        Some(args.get(i + 1)?.split(',').map(str::to_string).collect())
    };
    let (only, shapes) = (list("--only"), list("--shapes"));
    // Warm up for 0.3 s first: the cores of a VM may be clocked down,
    // and the pool's threads, caches and page tables are cold.
    let warm = sq(256);
    let (a, b, mut c) = operands(warm);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        kernels::sgemm_with(
            kernels::selected(),
            threads,
            &Gemm::new(256, 256, 256),
            &a,
            &b,
            &mut c,
        );
    }
    // Every cell is measured in ROUNDS rounds spread over the whole run, and the
    // median of the rounds is printed: a burst of activity from another process
    // then spoils at most one round of a cell instead of the cell.
    const ROUNDS: usize = 3;
    let tb = trans_b();
    let mut cells: BTreeMap<(usize, String), Vec<f64>> = BTreeMap::new();
    for _ in 0..ROUNDS {
        for (si, &s) in SHAPES.iter().enumerate() {
            if shapes.as_ref().is_some_and(|l| !l.contains(&si.to_string())) {
                continue;
            }
            let (a, b, mut c) = operands(s);
            for imp in Impl::all(threads) {
                if only.as_ref().is_some_and(|l| !l.contains(&imp.name())) {
                    continue;
                }
                // The naive loop at 1024³ takes seconds: give it a smaller budget.
                let budget = Duration::from_millis(if imp == Impl::Naive { 100 } else { 150 });
                if !wait_for_idle(Duration::from_secs(5)) {
                    eprintln!("busy|{si}|{}", imp.name());
                }
                let secs = median_secs(
                    || imp.run(threads, s, tb, black_box(&a), black_box(&b), black_box(&mut c)),
                    budget,
                );
                cells
                    .entry((si, imp.name()))
                    .or_default()
                    .push(s.flops() / secs / 1e9);
            }
        }
    }
    for ((si, name), mut v) in cells {
        v.sort_by(f64::total_cmp);
        println!("row|{si}|{name}|{:.2}|{}", v[v.len() / 2], SHAPES[si].label());
    }
}

/// Busy and total jiffies of all CPUs, from the first line of `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Waits until the CPUs are at least 95 % idle over half a second (nothing else
/// running), for at most `max`; false if that never happened. Always true where
/// `/proc/stat` does not exist.
fn wait_for_idle(max: Duration) -> bool {
    let start = Instant::now();
    loop {
        let Some((b0, t0)) = cpu_jiffies() else {
            return true;
        };
        std::thread::sleep(Duration::from_millis(500));
        let Some((b1, t1)) = cpu_jiffies() else {
            return true;
        };
        if (b1 - b0) as f64 <= 0.05 * (t1 - t0).max(1) as f64 {
            return true;
        }
        if start.elapsed() > max {
            return false;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The attention-scores case `sgemm_batched` exists for: `HEADS` products
/// `Q·Kᵀ` of `T×D` by `T×D`, one per head, as one batched call.
const HEADS: usize = 16;
const T: usize = 128;
const D: usize = 64;

/// Measures the batched heads on `threads` threads and prints a `batched|…` line.
fn batched_run(threads: usize) {
    let (q, k, mut s) = (
        vec![0.5f32; HEADS * T * D],
        vec![0.25f32; HEADS * T * D],
        vec![0.0f32; HEADS * T * T],
    );
    let kernel = kernels::selected();
    // S_h = Q_h·K_hᵀ for every head h
    let scores = Gemm::new(T, T, D).transpose_b();
    let heads = Batched {
        count: HEADS,
        stride_a: T * D,
        stride_b: T * D,
        stride_c: T * T,
    };
    let secs = median_secs(
        || {
            kernels::sgemm_batched_with(
                kernel,
                threads,
                &scores,
                &heads,
                black_box(&q),
                black_box(&k),
                black_box(&mut s),
            )
        },
        Duration::from_millis(400),
    );
    println!("batched|{:.2}", (2 * HEADS * T * T * D) as f64 / secs / 1e9);
}

/// `--table`: runs `--table-run` for 1 and 2 threads in child processes and prints
/// the markdown table of the README.
fn table() {
    // The peak of the kernel the "% of peak" column is about: the one `sgemm`
    // uses, which SHORTMEM_KERNEL may force.
    let best = kernels::selected();
    let peak = kernels::fma_peak_gflops(best);
    let mut results: BTreeMap<(usize, usize, String), f64> = BTreeMap::new();
    let mut batched = [f64::NAN; 2];
    let mut not_idle: Vec<String> = Vec::new();
    // One child per thread count and shape, each started only once both cores
    // are idle (others' builds on a shared machine ruin 2-thread figures).
    let jobs = (0..SHAPES.len())
        .map(|i| i.to_string())
        .chain(["batched".to_string()]);
    for job in jobs {
        for threads in [1, 2] {
            if !wait_for_idle(Duration::from_secs(60)) {
                not_idle.push(format!("{job}/{threads}t"));
            }
            // (The child inherits BENCH_TRANS_B.)
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--table-run", &threads.to_string(), "--shapes", &job])
                .env("MATMUL_NUM_THREADS", threads.to_string())
                .env("RAYON_NUM_THREADS", threads.to_string())
                .output()
                .expect("could not run the benchmark child process");
            assert!(
                out.status.success(),
                "child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if String::from_utf8_lossy(&out.stderr).contains("busy|") {
                not_idle.push(format!("{job}/{threads}t (a round)"));
            }
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split('|').collect();
                if f.len() == 2 && f[0] == "batched" {
                    batched[threads - 1] = f[1].parse().unwrap();
                }
                if f.len() == 5 && f[0] == "row" {
                    results.insert(
                        (threads, f[1].parse().unwrap(), f[2].to_string()),
                        f[3].parse().unwrap(),
                    );
                }
            }
        }
    }
    let ours = format!("shortmem-{best}");
    let mut cols: Vec<String> = vec!["naive".into()];
    cols.extend(kernels::available().iter().map(|k| format!("shortmem-{k}")));
    cols.extend(["matrixmultiply".into(), "gemm".into()]);
    let product = if trans_b() { "C = A·Bᵀ" } else { "C = A·B" };
    println!("GFLOP/s (2·m·n·k, median time), {product}, shapes m×k×n, each cell started on an idle machine");
    match peak {
        Some(p) => println!("measured {best} FMA peak: {p:.1} GFLOP/s per core\n"),
        None => println!("no FMA peak probe for the {best} kernel\n"),
    }
    print!("| shape | threads |");
    for c in &cols {
        print!(" {c} |");
    }
    println!(" {ours} % of peak | {ours} / gemm | {ours} / matrixmultiply |");
    println!("|---|---|{}---|---|---|", "---|".repeat(cols.len()));
    for (si, s) in SHAPES.iter().enumerate() {
        for threads in [1, 2] {
            let get = |name: &str| results.get(&(threads, si, name.to_string())).copied();
            print!("| {} | {threads} |", s.label());
            for c in &cols {
                match get(c) {
                    Some(v) => print!(" {v:.1} |"),
                    None => print!(" — |"),
                }
            }
            let mine = get(&ours).unwrap_or(f64::NAN);
            let pct = peak.map_or(f64::NAN, |p| 100.0 * mine / (p * threads as f64));
            let ratio = |peer: &str| get(peer).map_or(f64::NAN, |v| mine / v);
            println!(
                " {pct:.0} % | {:.2} | {:.2} |",
                ratio("gemm"),
                ratio("matrixmultiply")
            );
        }
    }
    println!(
        "\nsgemm_batched, {HEADS} heads of Q·Kᵀ ({T}×{D} by {D}×{T}): {:.1} GFLOP/s on 1 thread, {:.1} on 2 ({:.2}×)",
        batched[0],
        batched[1],
        batched[1] / batched[0]
    );
    if !not_idle.is_empty() {
        println!("(measured while the machine was busy: {})", not_idle.join(", "));
    }
}

fn criterion_benches(c: &mut Criterion) {
    let mm_threads: usize = std::env::var("MATMUL_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    // Read once: not inside the timed closure.
    let tb = trans_b();
    for s in SHAPES {
        let mut group = c.benchmark_group(format!("matmul/{}", s.label()));
        group.throughput(Throughput::Elements(s.flops() as u64));
        let (a, b, mut out) = operands(s);
        for threads in [1, 2] {
            for imp in Impl::all(threads) {
                // matrixmultiply's thread count is fixed per process.
                if imp == Impl::MatrixMultiply && threads != mm_threads.min(2) {
                    continue;
                }
                if imp == Impl::Naive && s.m * s.n * s.k > 256 * 256 * 256 {
                    continue;
                }
                group.bench_with_input(
                    BenchmarkId::new(imp.name(), format!("{threads}t")),
                    &threads,
                    |bch, &t| {
                        bch.iter(|| imp.run(t, s, tb, black_box(&a), black_box(&b), black_box(&mut out)))
                    },
                );
            }
        }
        group.finish();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--table-run") {
        let threads = args[i + 1].parse().expect("--table-run THREADS");
        table_run(threads, &args);
        // `--shapes …,batched` includes it when filtering.
        let filtered = args.iter().position(|a| a == "--shapes");
        if filtered.is_none_or(|i| {
            args.get(i + 1)
                .is_some_and(|l| l.split(',').any(|x| x == "batched"))
        }) {
            batched_run(threads);
        }
    } else if args.iter().any(|a| a == "--peak") {
        for k in kernels::available() {
            if let Some(p) = kernels::fma_peak_gflops(k) {
                println!("{k}: FMA peak {p:.1} GFLOP/s per core");
            }
        }
    } else if args.iter().any(|a| a == "--table") {
        table();
    } else {
        let mut c = Criterion::default().configure_from_args();
        criterion_benches(&mut c);
        c.final_summary();
    }
}
