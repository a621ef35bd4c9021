//! Chapter 7: the course's own instruments, run for real. The gradient checker
//! over every differentiable op and whole models (and the wrong backward it
//! catches); the profiler's account of one training step of the §5 model; the
//! roofline of the matrix kernels beside the FMA peak, with the training step's
//! model FLOPs utilisation; and a model handed to the tutorial's PyTorch code
//! and back.
//!
//! ```text
//! cargo run --release --bin ch07
//! ```

use clap::Parser;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use shortmem::autograd::gradcheck::{GradCheck, Mismatch, Report};
use shortmem::autograd::profile;
use shortmem::chapter::{Chapter, ChapterResult, CommonArgs, Program, Transcript, sizes};
use shortmem::checkpoint::Checkpointed;
use shortmem::data::{Dataset, random_batch};
use shortmem::kernels::{self, Gemm, Kernel, fma_peak_gflops, gemm_reference, sgemm_with};
use shortmem::models::{
    Activation, Eq42, Eq42Config, Gru, Rnn, TransformerBlock, TransformerConfig, TransformerLM,
};
use shortmem::optim::AdamW;
use shortmem::plot::{Legend, Mark, Series};
use shortmem::train::{TrainConfig, fit};
use shortmem::{Graph, Tensor, Var};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub const PROGRAM: Program = Program {
    id: "ch07",
    run: |words| run(Args::try_parse_from(words)?),
};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ch07",
    allow_negative_numbers = true,
    about = "Chapter 7: the gradient checker, the profiler, the roofline, and a model handed to PyTorch and back",
    mut_arg("steps", |a| a.help("Not used by ch07: its profile and round trip have fixed sizes"))
)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A Python with torch and safetensors, for the PyTorch part (default:
    /// $SHORTMEM_PYTHON, then python3). Without one, that part is skipped.
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
}

/// The sizes of a run.
struct Sizes {
    /// The model the profiler and the MFU measure.
    profiled: TransformerConfig,
    batch: usize,
    /// Training steps timed by the profiler (after 3 untimed).
    profile_steps: usize,
    /// Square products of the roofline, n³.
    roofline: &'static [usize],
    /// Largest n the textbook triple loop runs at (it is slow).
    naive_up_to: usize,
    /// Training steps of the model handed to PyTorch, and of PyTorch's run.
    interop_steps: usize,
    torch_steps: usize,
}

/// The "small" §5 model of the speed table (`examples/train_speed.rs`).
const SMALL: TransformerConfig = TransformerConfig {
    vocab_size: 0, // the corpus's alphabet
    embed_dim: 128,
    num_heads: 4,
    ff_dim: 512,
    num_layers: 4,
    context: 128,
    causal: true,
};

const DEFAULT: Sizes = Sizes {
    profiled: SMALL,
    batch: 16,
    profile_steps: 12,
    roofline: &[16, 32, 64, 128, 256, 512, 1024],
    naive_up_to: 512,
    interop_steps: 300,
    torch_steps: 50,
};
const QUICK: Sizes = Sizes {
    profiled: TransformerConfig {
        embed_dim: 16,
        num_heads: 2,
        ff_dim: 32,
        num_layers: 2,
        context: 16,
        ..SMALL
    },
    batch: 4,
    profile_steps: 2,
    roofline: &[16, 32],
    naive_up_to: 32,
    interop_steps: 5,
    torch_steps: 3,
};

pub fn run(args: Args) -> ChapterResult {
    let size = sizes(&args.common, DEFAULT, QUICK);
    let python = args.python.clone();
    let mut ch = Chapter::start("ch07", "Tools", args.common, &[])?;
    let mut tr = Transcript::default();
    gradient_checker(&mut ch, &mut tr)?;
    let (name, data, _) = ch.dataset()?;
    let context = size.profiled.context;
    ch.require_text(
        &name,
        &data,
        (size.batch * (context + 1) + 1, context + 2),
        "the profiled model reads windows of 129 characters",
    )?;
    // The profile and the roofline are timings: their tables go to
    // measured.txt, written with --timings only (see Chapter::timed_figure).
    let mut timed = Transcript::default();
    let step = profiler(&mut ch, &mut timed, &data, &size)?;
    roofline(&mut ch, &mut timed, &size, &step)?;
    interoperability(&mut ch, &mut tr, &data, &size, python)?;
    ch.write_transcript("tables.txt", &tr)?;
    ch.write_timed_transcript("measured.txt", &timed)?;
    ch.finish()
}

// ---------------------------------------------------------------- gradient checker

/// One check of the table: a name and what to run.
type Case = (&'static str, Box<dyn Fn(&GradCheck) -> Result<Report, Mismatch>>);

fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// Values in ±[0.3, 2): away from the kinks and poles of relu, log and division.
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::from_fn(shape, |_| {
        let m = rng.random_range(0.3..2.0);
        if rng.random::<bool>() { m } else { -m }
    })
}

/// A check of `f` on `inputs`, as a table case.
fn op<F>(name: &'static str, inputs: Vec<Tensor<f64>>, f: F) -> Case
where
    F: for<'g> Fn(&'g Graph<f64>, &[Var<'g, f64>]) -> Var<'g, f64> + 'static,
{
    (name, Box::new(move |gc: &GradCheck| gc.check_inputs(&inputs, &f)))
}

/// Every differentiable op of `src/ops`, then whole models, each against f64
/// central differences.
fn cases() -> Vec<Case> {
    let (a, b) = (randn(&[3, 4], 1), away_from_zero(&[3, 4], 2));
    let row = away_from_zero(&[4], 3);
    let x3 = randn(&[2, 3, 4], 4);
    let targets = vec![0usize, 3, 1, 2, 2, 0];
    let pos = Tensor::from_fn([3, 4], |i| 0.2 + 0.1 * (4 * i[0] + i[1]) as f64);
    let mut out: Vec<Case> = vec![
        op("add, broadcast row", vec![a.clone(), row.clone()], |_g, v| {
            v[0] + v[1]
        }),
        op("subtract", vec![a.clone(), b.clone()], |_g, v| v[0] - v[1]),
        op("multiply", vec![a.clone(), b.clone()], |_g, v| v[0] * v[1]),
        op("divide", vec![a.clone(), b.clone()], |_g, v| v[0] / v[1]),
        op("tanh", vec![a.clone()], |_g, v| v[0].tanh()),
        op("relu", vec![b.clone()], |_g, v| v[0].relu()),
        op("sigmoid", vec![a.clone()], |_g, v| v[0].sigmoid()),
        op("exp", vec![a.clone()], |_g, v| v[0].exp()),
        op("log", vec![pos], |_g, v| v[0].log()),
        op("sum, mean", vec![x3.clone()], |_g, v| v[0].sum() + v[0].mean()),
        op("sum and mean of the last axis", vec![x3.clone()], |_g, v| {
            v[0].sum_last() + v[0].mean_last()
        }),
        op(
            "matmul A·B",
            vec![randn(&[3, 5], 5), randn(&[5, 2], 6)],
            |_g, v| v[0].matmul(v[1]),
        ),
        op(
            "matmul A·Bᵀ",
            vec![randn(&[3, 5], 5), randn(&[2, 5], 6)],
            |_g, v| v[0].matmul_t(v[1]),
        ),
        op(
            "matmul Aᵀ·B",
            vec![randn(&[5, 3], 5), randn(&[5, 2], 6)],
            |_g, v| v[0].t_matmul(v[1]),
        ),
        op(
            "batched matmul",
            vec![randn(&[2, 3, 5], 7), randn(&[2, 5, 4], 8)],
            |_g, v| v[0].matmul(v[1]),
        ),
        op("softmax", vec![x3.clone()], |_g, v| v[0].softmax()),
        op("log-softmax", vec![x3.clone()], |_g, v| v[0].log_softmax()),
        op("cross-entropy", vec![randn(&[6, 4], 9)], move |_g, v| {
            v[0].cross_entropy(&targets)
        }),
        op(
            "causal mask, then softmax",
            vec![randn(&[2, 2, 3, 3], 10)],
            |_g, v| v[0].causal_mask(0).softmax(),
        ),
        op(
            "layer norm",
            vec![x3.clone(), randn(&[4], 11), randn(&[4], 12)],
            |_g, v| v[0].layer_norm(v[1], v[2], 1e-5),
        ),
        op("embedding, repeated ids", vec![randn(&[5, 3], 13)], |_g, v| {
            v[0].embedding(&[2, 0, 2, 4, 2, 1], [2, 3])
        }),
        op(
            "attention (4 heads, causal)",
            vec![randn(&[2, 5, 24], 14)],
            |_g, v| v[0].attention(4, true),
        ),
        op("reshape, transpose, slice", vec![x3.clone()], |_g, v| {
            v[0].reshape([3, 8]).transpose().slice(0, 2, 7)
        }),
        op("split and merge heads", vec![randn(&[2, 3, 8], 15)], |_g, v| {
            v[0].split_heads(2).scale(1.5).merge_heads()
        }),
        op("concat", vec![x3.clone(), randn(&[2, 1, 4], 16)], |_g, v| {
            Var::concat(&[v[0], v[1], v[0]], 1)
        }),
    ];
    let ids = [1usize, 3, 0, 2, 1, 2, 0, 0, 3, 1];
    let next = [3usize, 0, 2, 1, 2, 0, 0, 3, 1, 1];
    out.push((
        "§4.1 RNN, 5 time steps",
        Box::new(move |gc: &GradCheck| {
            let mut m = Rnn::<f64>::new(4, 3, Activation::Tanh, &mut StdRng::seed_from_u64(3));
            gc.check_module(&mut m, |m, g| {
                m.forward(g, &ids, 2, 5, None).logits.cross_entropy(&next)
            })
        }),
    ));
    out.push((
        "GRU, 5 time steps",
        Box::new(move |gc: &GradCheck| {
            let mut m = Gru::<f64>::new(4, 3, &mut StdRng::seed_from_u64(4));
            gc.check_module(&mut m, |m, g| {
                m.forward(g, &ids, 2, 5, None).logits.cross_entropy(&next)
            })
        }),
    ));
    let ids = [0usize, 1, 4, 2, 3, 3, 2, 1];
    let next = [1usize, 4, 2, 3, 3, 2, 1, 0];
    out.push((
        "§4.2 one-head Transformer",
        Box::new(move |gc: &GradCheck| {
            let cfg = Eq42Config {
                vocab_size: 5,
                d_model: 4,
                d_k: 3,
                d_ff: 6,
                context: 8,
            };
            let mut m = Eq42::<f64>::new(cfg, &mut StdRng::seed_from_u64(5));
            gc.check_module(&mut m, |m, g| m.trace(g, &ids, 2, 4).logits.cross_entropy(&next))
        }),
    ));
    out.push((
        "§5 block",
        Box::new(|gc: &GradCheck| {
            let mut block = TransformerBlock::<f64>::new("blocks.0", 6, 2, 10, &mut StdRng::seed_from_u64(7));
            let x = randn(&[2, 4, 6], 8);
            gc.check_module(&mut block, |b, g| b.forward(g, g.constant(x.clone()), true))
        }),
    ));
    let ids = [1usize, 5, 2, 6, 0, 3, 3, 4, 1, 2];
    let next = [5usize, 2, 6, 0, 3, 3, 4, 1, 2, 0];
    out.push((
        "§5 language model, 2 layers",
        Box::new(move |gc: &GradCheck| {
            let cfg = TransformerConfig {
                vocab_size: 7,
                embed_dim: 8,
                num_heads: 2,
                ff_dim: 12,
                num_layers: 2,
                context: 16,
                causal: true,
            };
            let mut m = TransformerLM::<f64>::new(cfg, &mut StdRng::seed_from_u64(9));
            let gc = GradCheck {
                max_per_tensor: 40,
                ..*gc
            };
            gc.check_module(&mut m, |m, g| m.forward(g, &ids, 2, 5).cross_entropy(&next))
        }),
    ));
    out
}

/// y = x², recorded with a backward that forgets the factor 2: the mistake the
/// checker exists to catch.
fn wrong_square<'g>(g: &'g Graph<f64>, x: Var<'g, f64>) -> Var<'g, f64> {
    let xv = x.value();
    let y = Tensor::from_vec(xv.shape(), xv.data().iter().map(|a| a * a).collect());
    let id = x.id();
    g.op(
        "wrong square",
        y,
        &[x],
        Box::new(move |dy, grads| {
            if let Some(slot) = grads.slot(id) {
                for ((s, d), x) in slot.iter_mut().zip(dy.data()).zip(xv.data()) {
                    *s += d * x; // dy/dx = 2x, written as x
                }
            }
        }),
    )
}

/// § Every op's backward, and whole models', against central differences.
fn gradient_checker(ch: &mut Chapter, tr: &mut Transcript) -> Result<(), Box<dyn Error>> {
    ch.section("the gradient checker");
    let gc = GradCheck::default();
    tr.anchor("gradcheck");
    tr.say(format!(
        "{:<32} {:>8} {:>12} {:>12}  result",
        "op or model", "checked", "max abs err", "max rel err"
    ));
    let (mut worst, mut elements, mut n) = (0.0f64, 0, 0);
    for (name, check) in cases() {
        let report = check(&gc).map_err(|e| format!("{name}: {e}"))?;
        tr.say(format!(
            "{name:<32} {:>8} {:>12.1e} {:>12.1e}  pass",
            report.checked(),
            report.max_abs_err(),
            report.max_rel_err()
        ));
        worst = worst.max(report.max_rel_err());
        elements += report.checked();
        n += 1;
    }
    let x = randn(&[4], 1);
    match gc.check_inputs(&[x], |g, v| wrong_square(g, v[0])) {
        Ok(_) => return Err("the checker passed a backward that is wrong by a factor of 2".into()),
        Err(m) => {
            let rel = (m.analytic - m.numeric).abs() / m.analytic.abs().max(m.numeric.abs());
            tr.say(format!(
                "{:<32} {:>8} {:>12.1e} {:>12.1e}  caught: backward {:.4}, differences {:.4}",
                "y = x², backward written x",
                1,
                (m.analytic - m.numeric).abs(),
                rel,
                m.analytic,
                m.numeric
            ));
            ch.record("gradient check: wrong backward's relative error", rel);
        }
    }
    tr.end("gradcheck");
    tr.say(format!(
        "tolerance: |analytic − numeric| ≤ {:.0e} + {:.0e}·max(|analytic|, |numeric|), ε = {:.0e}, in f64",
        gc.atol, gc.rtol, gc.eps
    ));
    ch.finding(format!(
        "{n} gradient checks (ops and whole models) pass, largest relative error {worst:.1e}; a backward off by a factor 2 is caught"
    ));
    ch.record("gradient check: cases", n);
    ch.record("gradient check: elements checked", elements);
    ch.record("gradient check: largest relative error", worst);
    Ok(())
}

// ---------------------------------------------------------------- profiler

/// What the profiler measured of the training step, for the roofline.
struct StepSpeed {
    tokens_per_second: f64,
    flops_per_token: f64,
    threads: usize,
}

/// § Where one training step of the §5 model spends its time.
fn profiler(
    ch: &mut Chapter,
    tr: &mut Transcript,
    data: &Dataset,
    size: &Sizes,
) -> Result<StepSpeed, Box<dyn Error>> {
    ch.section("the profiler: one training step of the §5 model");
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        ..size.profiled
    };
    let (batch, context) = (size.batch, config.context);
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(ch.seed()));
    let mut rng = StdRng::seed_from_u64(ch.seed());
    let mut train = |model: &mut TransformerLM, steps: usize| {
        let mut cfg = TrainConfig::new(steps, batch, context, 1e-3);
        cfg.progress = false;
        cfg.eval_every = usize::MAX;
        fit(
            model,
            &mut AdamW::nanogpt(1e-3),
            &cfg,
            |_| (random_batch(&data.train, batch, context, &mut rng), true),
            |m, g, b, _: &mut ()| m.forward(g, &b.inputs, b.batch, b.time).cross_entropy(&b.targets),
            |_| f64::NAN,
        )
    };
    train(&mut model, 3)?; // warm-up: buffers, threads, caches
    let plain = train(&mut model, size.profile_steps)?.median_step_seconds(0);
    profile::start();
    let profiled = train(&mut model, size.profile_steps)?;
    let rows = profile::stop();
    let steps = size.profile_steps as f64;
    let threads = shortmem::threads::threads();
    let total: f64 = rows.iter().map(|(_, e)| e.total_secs()).sum::<f64>() / steps;
    let wall = profiled.median_step_seconds(0);
    tr.say(format!(
        "§5 model D {}, {} layers, {} heads, feed-forward {}, T {context}, B {batch}, V {}; {} shard(s) on {threads} thread(s)",
        config.embed_dim, config.num_layers, config.num_heads, config.ff_dim, config.vocab_size, threads
    ));
    tr.anchor("profile");
    for line in profile::table(&rows, size.profile_steps, 0.002) {
        tr.say(line);
    }
    let bars: Vec<(String, f64)> = rows
        .iter()
        .map(|(kind, e)| (kind.clone(), 100.0 * e.total_secs() / steps / total))
        .collect();
    tr.end("profile");
    tr.say(format!(
        "median step: {:.1} ms of wall time profiled, {:.1} ms without the profiler",
        1e3 * wall,
        1e3 * plain
    ));
    // The chart groups the kinds the way the speed work reads them.
    let mut groups: Vec<(String, f64)> = Vec::new();
    for (kind, share) in bars {
        let group = match kind.split(' ').next().unwrap_or("") {
            _ if profile::is_product(&kind) => kind.clone(),
            "attention" => "attention (fused)".to_string(),
            "layer_norm" => "layer norm".to_string(),
            "softmax" | "log_softmax" | "cross_entropy" => "softmax and cross-entropy".to_string(),
            "elementwise" => "elementwise (residual adds)".to_string(),
            "optimizer" => "optimizer step".to_string(),
            _ => {
                if kind.starts_with("sum of the shards") {
                    kind.clone()
                } else {
                    "other (shapes, embedding, checks)".to_string()
                }
            }
        };
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, s)) => *s += share,
            None => groups.push((group, share)),
        }
    }
    groups.sort_by(|a, b| b.1.total_cmp(&a.1));
    let fig = ch.timed_frame(
        "Where a training step of the §5 model spends its time",
        "",
        "share of the step's thread time (%)",
    );
    let (labels, values): (Vec<String>, Vec<f64>) = groups.into_iter().unzip();
    ch.timed_bars("profile.svg", &fig, &labels, &values)?;
    let speed = StepSpeed {
        tokens_per_second: (batch * context) as f64 / plain,
        flops_per_token: config.training_flops_per_token(),
        threads,
    };
    ch.record_time("profile: step milliseconds", 1e3 * plain);
    ch.record_time("profile: matrix products' share", {
        rows.iter()
            .filter(|(k, _)| profile::is_product(k))
            .map(|(_, e)| e.total_secs())
            .sum::<f64>()
            / steps
            / total
    });
    ch.record_time("training step: tokens per second", speed.tokens_per_second);
    Ok(speed)
}

// ---------------------------------------------------------------- roofline

/// Median seconds of one call of `f`, over 3 rounds of enough calls to last 30 ms.
fn time_call(mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let (started, mut calls) = (Instant::now(), 0u32);
        while calls == 0 || started.elapsed().as_secs_f64() < 0.03 {
            f();
            calls += 1;
        }
        rounds.push(started.elapsed().as_secs_f64() / calls as f64);
    }
    rounds.sort_by(f64::total_cmp);
    rounds[1]
}

/// GFLOP/s of C = A·B (m×k by k×n) with `kernel` on `threads`, or the textbook loop.
fn gflops(m: usize, k: usize, n: usize, kernel: Option<Kernel>, threads: usize) -> f64 {
    let mut rng = StdRng::seed_from_u64(1);
    let a: Vec<f32> = (0..m * k).map(|_| rng.random_range(-1.0..1.0)).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut c = vec![0.0f32; m * n];
    let p = Gemm::new(m, n, k);
    let secs = match kernel {
        Some(kernel) => time_call(|| sgemm_with(kernel, threads, &p, &a, &b, &mut c)),
        None => time_call(|| gemm_reference(&p, &a, &b, &mut c)),
    };
    2.0 * (m * n * k) as f64 / secs / 1e9
}

/// § The matrix kernel's speed against size, beside what the core can do.
fn roofline(
    ch: &mut Chapter,
    tr: &mut Transcript,
    size: &Sizes,
    step: &StepSpeed,
) -> Result<(), Box<dyn Error>> {
    ch.section("the roofline: matrix products against the FMA peak");
    let best = kernels::selected();
    let threads = shortmem::threads::threads();
    let peak = fma_peak_gflops(best);
    let mut lines: Vec<(String, Option<Kernel>, usize, usize)> = vec![
        (format!("{best}, 1 thread"), Some(best), 1, usize::MAX),
        (
            "portable, 1 thread".to_string(),
            Some(Kernel::Scalar),
            1,
            usize::MAX,
        ),
        ("textbook loop".to_string(), None, 1, size.naive_up_to),
    ];
    if threads > 1 {
        lines.insert(
            1,
            (
                format!("{best}, {threads} threads"),
                Some(best),
                threads,
                usize::MAX,
            ),
        );
    }
    tr.anchor("roofline");
    // Each column as wide as its heading, so that the table fits a page.
    let widths: Vec<usize> = lines.iter().map(|l| l.0.chars().count().max(6) + 2).collect();
    tr.say(format!(
        "{:<6}{}",
        "n³",
        lines
            .iter()
            .zip(&widths)
            .map(|(l, &w)| format!("{:>w$}", l.0))
            .collect::<String>()
    ));
    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); lines.len()];
    for &n in size.roofline {
        let mut row = format!("{n:<6}");
        for (i, (_, kernel, t, up_to)) in lines.iter().enumerate() {
            let w = widths[i];
            if n > *up_to {
                row.push_str(&format!("{:>w$}", "—"));
                continue;
            }
            let g = gflops(n, n, n, *kernel, *t);
            series[i].push((n as f64, g));
            row.push_str(&format!("{g:>w$.1}"));
        }
        tr.say(row);
    }
    tr.end("roofline");
    // The shapes the §5 model itself multiplies (B·T rows of width D or 4D;
    // one head's scores), on one thread.
    let (d, f, t) = (SMALL.embed_dim, SMALL.ff_dim, SMALL.context);
    let rows = 16 * t;
    let shapes = [
        ("feed-forward in", rows, d, f),
        ("feed-forward out", rows, f, d),
        ("attention projection", rows, d, 3 * d),
        ("one head's scores QKᵀ", t, d / SMALL.num_heads, t),
    ];
    tr.anchor("model-shapes");
    tr.say(format!(
        "{:<24} {:>18} {:>10} {:>8}",
        "product", "m × k × n", "GFLOP/s", "of peak"
    ));
    for (name, m, k, n) in shapes {
        let g = gflops(m, k, n, Some(best), 1);
        let of_peak = peak.map_or("—".to_string(), |p| format!("{:.0}%", 100.0 * g / p));
        tr.say(format!(
            "{name:<24} {:>18} {g:>10.1} {of_peak:>8}",
            format!("{m} × {k} × {n}")
        ));
    }
    tr.end("model-shapes");
    let achieved = step.tokens_per_second * step.flops_per_token / 1e9;
    let per_thread = achieved / step.threads as f64;
    tr.anchor("mfu");
    tr.say(format!(
        "training step of the §5 model: {:.0} tokens/s × {:.2} MFLOP per token = {achieved:.1} GFLOP/s on {} thread(s)",
        step.tokens_per_second,
        step.flops_per_token / 1e6,
        step.threads
    ));
    let mut fig = ch.timed_frame(
        "The matrix kernels against the machine's peak",
        "n (C = A·B, all n × n)",
        "GFLOP/s",
    );
    fig = fig.log2_x().legend(Legend::UpperLeft);
    // The best kernel on one thread at the largest size measured.
    let (big_n, big_g) = series[0].last().copied().unwrap_or((0.0, f64::NAN));
    let mut drawn: Vec<Series> = lines
        .iter()
        .zip(series)
        .enumerate()
        .map(|(i, (l, points))| {
            Series::line(&l.0, points)
                .with_mark(Mark::LinePoints)
                .with_color(i)
        })
        .collect();
    if let Some(p) = peak {
        tr.say(format!(
            "FMA peak of one core ({best}): {p:.1} GFLOP/s; the training step uses {:.0}% of {} core(s) (MFU)",
            100.0 * per_thread / p,
            step.threads
        ));
        drawn.push(Series::reference(&format!("FMA peak, 1 core: {p:.0}"), p));
        ch.timed_finding(format!(
            "a training step of the §5 model runs at {:.0} % of the FMA peak ({achieved:.0} GFLOP/s on {} thread(s)); the kernel alone reaches {:.0} % at {big_n}³",
            100.0 * per_thread / p,
            step.threads,
            100.0 * big_g / p
        ));
        ch.record_time("fma peak GFLOP/s per core", p);
        ch.record_time("training step: MFU", per_thread / p);
        ch.record_time(
            &format!("kernel at {big_n}³, 1 thread: share of the FMA peak"),
            big_g / p,
        );
    }
    tr.end("mfu");
    drawn.push(Series::reference(
        &format!("training step, per thread: {per_thread:.0}"),
        per_thread,
    ));
    ch.timed_lines("roofline.svg", &fig, &drawn)?;
    ch.record_time("training step: GFLOP/s", achieved);
    Ok(())
}

// ---------------------------------------------------------------- PyTorch

/// A Python that imports torch and safetensors, or why there is none.
fn find_python(asked: Option<PathBuf>) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match asked {
        Some(p) => vec![p],
        None => std::env::var_os("SHORTMEM_PYTHON")
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from("python3")])
            .collect(),
    };
    for p in &candidates {
        let ok = Command::new(p)
            .args(["-c", "import torch, safetensors"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(p.clone());
        }
    }
    Err(format!(
        "no Python with torch and safetensors found (tried {})",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Runs a script of `tools/` and returns what it printed, or what went wrong.
fn run_tool(python: &Path, script: &str, args: &[&str]) -> Result<String, Box<dyn Error>> {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    let out = Command::new(python)
        .arg(tools.join(script))
        .args(args)
        .env("OMP_NUM_THREADS", shortmem::threads::threads().to_string())
        .output()
        .map_err(|e| format!("running {script}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tools/{script} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A folder deleted when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn max_diff(a: &[f32], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// § A model trained here, read by the tutorial's PyTorch code; one trained
/// further there, read back here.
fn interoperability(
    ch: &mut Chapter,
    tr: &mut Transcript,
    data: &Dataset,
    size: &Sizes,
    asked: Option<PathBuf>,
) -> Result<(), Box<dyn Error>> {
    ch.section("shortmem and PyTorch: one model, both ways");
    let python = match find_python(asked) {
        Ok(p) => p,
        Err(why) => {
            println!("   skipped: {why}.");
            println!(
                "   To run this part: python3 -m venv ~/torch && ~/torch/bin/pip install torch numpy safetensors,"
            );
            println!("   then: cargo run --release --bin ch07 -- --python ~/torch/bin/python");
            ch.record("pytorch: ran", false);
            return Ok(());
        }
    };
    // Scratch files, removed when the section ends (whether it succeeds or not).
    let dir = Scratch(std::env::temp_dir().join(format!("shortmem-ch07-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    let (ckpt, back) = (
        dir.0.join("shortmem.safetensors"),
        dir.0.join("pytorch.safetensors"),
    );
    let corpus = dir.0.join("corpus.txt");
    let (_, text, _) = ch.text()?;
    std::fs::write(&corpus, &text)?;
    // A small §5 model, trained here for a few hundred steps.
    let config = TransformerConfig {
        vocab_size: data.vocab_size(),
        embed_dim: 64,
        num_heads: 4,
        ff_dim: 256,
        num_layers: 2,
        context: 64,
        causal: true,
    };
    let mut model = TransformerLM::<f32>::new(config, &mut StdRng::seed_from_u64(ch.seed()));
    let mut cfg = TrainConfig::new(size.interop_steps, 16, 64, 3e-3);
    cfg.seed = ch.seed();
    let hist = shortmem::train::train(&mut model, &mut AdamW::nanogpt(3e-3), data, &cfg)?;
    model.save(&ckpt, &data.tokenizer)?;
    let prompt: String = data.tokenizer.decode(&data.val[..32])?;
    let ids = data.tokenizer.encode(&prompt)?;
    let ours = model.next_logits(&ids);
    let printed = run_tool(&python, "load_in_pytorch.py", &[&ckpt.to_string_lossy(), &prompt])?;
    let theirs: Vec<f64> = printed
        .lines()
        .nth(1)
        .ok_or("load_in_pytorch.py printed no logits")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let there = max_diff(&ours, &theirs);
    tr.anchor("interop");
    tr.say(format!(
        "shortmem → PyTorch: trained {} steps here (validation loss {:.3}), loaded by tools/load_in_pytorch.py: logits differ by at most {there:.1e}",
        size.interop_steps,
        hist.final_val()
    ));
    // And back: PyTorch trains it further, shortmem reads the result.
    let steps = size.torch_steps.to_string();
    run_tool(
        &python,
        "continue_in_pytorch.py",
        &[
            &ckpt.to_string_lossy(),
            "--corpus",
            &corpus.to_string_lossy(),
            "--steps",
            &steps,
            "--out",
            &back.to_string_lossy(),
        ],
    )?;
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.0.join("pytorch.safetensors.json"))?)?;
    let (loaded, tok) = TransformerLM::load(&back)?;
    let prompt = report["prompt"].as_str().ok_or("the report lacks its prompt")?;
    let theirs: Vec<f64> = report["logits"]
        .as_array()
        .ok_or("the report lacks its logits")?
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    let ours = loaded.next_logits(&tok.encode(prompt)?);
    let back_diff = max_diff(&ours, &theirs);
    let f = |k: &str| report[k].as_f64().unwrap_or(f64::NAN);
    tr.say(format!(
        "PyTorch → shortmem: tools/continue_in_pytorch.py trained it {steps} more steps (loss {:.3} at its first step, {:.3} at its last); shortmem loads it as ch05 --load does: logits differ by at most {back_diff:.1e}",
        f("first_loss"),
        f("last_loss")
    ));
    tr.end("interop");
    ch.record("pytorch: ran", true);
    ch.record("pytorch: logits difference, shortmem to PyTorch", there);
    ch.record("pytorch: logits difference, PyTorch to shortmem", back_diff);
    ch.finding(format!(
        "one model, two frameworks: logits agree to {there:.0e} (shortmem to PyTorch) and {back_diff:.0e} (back)"
    ));
    if there > 1e-4 || back_diff > 1e-4 {
        return Err(format!(
            "the two frameworks disagree: logits differ by {there:.1e} and {back_diff:.1e} (more than 1e-4)"
        )
        .into());
    }
    Ok(())
}
