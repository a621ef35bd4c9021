//! One training loop for every model: AdamW with warm-up and cosine decay,
//! clipping by global norm, periodic validation, a progress bar, and a clear
//! stop if the loss or a gradient stops being a finite number.

use crate::autograd::{Graph, Module, Var};
use crate::data::{Batch, Dataset, RecallTask, Split, StreamSampler, random_batch};
use crate::optim::{AdamW, DecayFilter, Optimizer, Schedule, clip_grad_norm};
use crate::sample::argmax;
use crate::tensor::Tensor;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::fmt;
use std::time::Instant;

/// What the trainer needs from a model: token ids in, logits out, parameters.
pub trait LanguageModel: Module<f32> + Sync {
    fn vocab_size(&self) -> usize;

    /// Logits `[B, T, V]` for the windows of `batch` (`[B, T]` ids).
    ///
    /// `carry` is state handed from one window to the next, for recurrent models
    /// trained with truncated backpropagation through time: read it as the
    /// initial state (a constant, so no gradient flows into the previous window)
    /// and leave the final state in it. Other models ignore it.
    fn logits<'g>(&self, g: &'g Graph, batch: &Batch, carry: &mut Option<Tensor>) -> Var<'g>;

    /// True for models that carry state: they are fed consecutive windows.
    fn recurrent(&self) -> bool {
        false
    }
}

/// Settings of one training run.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    /// Tokens per window (T).
    pub context: usize,
    pub schedule: Schedule,
    pub betas: (f64, f64),
    pub weight_decay: f64,
    pub decay_filter: DecayFilter,
    /// Clip the global gradient norm to this (None: no clipping).
    pub clip: Option<f64>,
    /// Validate every this many steps (and after the last step).
    pub eval_every: usize,
    /// Number of validation windows (`batch` each), the same ones every time.
    pub eval_batches: usize,
    pub seed: u64,
    /// Show a progress bar (it also stays hidden when stderr is not a terminal).
    pub progress: bool,
    /// Name shown on the progress bar.
    pub label: String,
    /// Split each batch into this many shards trained in parallel, one per
    /// thread (None: one per kernel thread, see [`crate::kernels::threads`]).
    pub shards: Option<usize>,
}

impl TrainConfig {
    /// Sensible defaults around a step count and peak learning rate: 5 % warm-up,
    /// cosine decay to lr/10, AdamW β = (0.9, 0.99) with weight decay 0.1 on
    /// matrices, clipping at 1.0, 20 validations.
    pub fn new(steps: usize, batch: usize, context: usize, lr: f64) -> Self {
        TrainConfig {
            steps,
            batch,
            context,
            schedule: Schedule::WarmupCosine {
                max_lr: lr,
                min_lr: lr / 10.0,
                warmup: steps / 20,
                total: steps,
            },
            betas: (0.9, 0.99),
            weight_decay: 0.1,
            decay_filter: DecayFilter::MatricesOnly,
            clip: Some(1.0),
            eval_every: (steps / 20).max(1),
            eval_batches: 20,
            seed: 0,
            progress: true,
            label: "train".to_string(),
            shards: None,
        }
    }
}

/// What happened during training.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// (step, training loss of that step's batch).
    pub train: Vec<(usize, f64)>,
    /// (step, mean validation loss).
    pub val: Vec<(usize, f64)>,
    /// Wall-clock seconds spent in training steps (validation excluded).
    pub seconds: f64,
    /// Seconds of each step.
    pub step_seconds: Vec<f64>,
    /// Tokens processed by training steps.
    pub tokens: usize,
}

impl History {
    pub fn tokens_per_second(&self) -> f64 {
        self.tokens as f64 / self.seconds.max(1e-9)
    }

    /// Median seconds per step, skipping the first `warmup` steps.
    pub fn median_step_seconds(&self, warmup: usize) -> f64 {
        let mut t: Vec<f64> = self.step_seconds.iter().skip(warmup).copied().collect();
        if t.is_empty() {
            return f64::NAN;
        }
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    }

    pub fn final_val(&self) -> f64 {
        self.val.last().map_or(f64::NAN, |v| v.1)
    }

    /// Mean training loss over the last `n` steps (one batch is noisy).
    pub fn final_train(&self, n: usize) -> f64 {
        let tail = &self.train[self.train.len().saturating_sub(n)..];
        tail.iter().map(|t| t.1).sum::<f64>() / tail.len().max(1) as f64
    }
}

/// Training stopped because a number went bad.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    NonFiniteLoss { step: usize, loss: f64 },
    NonFiniteGradient { step: usize, param: String },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFiniteLoss { step, loss } => write!(
                f,
                "training stopped at step {step}: the loss is {loss}; try a lower learning rate or clipping"
            ),
            TrainError::NonFiniteGradient { step, param } => write!(
                f,
                "training stopped at step {step}: the gradient of {param} is not finite; try a lower learning rate or clipping"
            ),
        }
    }
}

impl std::error::Error for TrainError {}

/// Mean cross-entropy of `model` on `split`: on fixed random windows
/// (deterministic: the same windows for the same config), or, for recurrent
/// models, on consecutive windows with the state carried across them, as the
/// model reads text in training.
pub fn evaluate<M: LanguageModel>(model: &M, data: &Dataset, split: Split, cfg: &TrainConfig) -> f64 {
    let tokens = data.split(split);
    let context = cfg.context.min(tokens.len() - 2);
    let mut total = 0.0;
    if model.recurrent() {
        let streams = cfg.batch.min((tokens.len() - 1) / (context + 1)).max(1);
        let mut sampler = StreamSampler::new(tokens.len(), streams, context);
        let mut carry = None;
        for _ in 0..cfg.eval_batches {
            let (batch, wrapped) = sampler.next_batch(tokens);
            if wrapped {
                carry = None;
            }
            let g = Graph::inference();
            total += model
                .logits(&g, &batch, &mut carry)
                .cross_entropy(&batch.targets)
                .item();
        }
    } else {
        let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0xe7a1);
        for _ in 0..cfg.eval_batches {
            let batch = random_batch(tokens, cfg.batch, context, &mut rng);
            let g = Graph::inference();
            total += model
                .logits(&g, &batch, &mut None)
                .cross_entropy(&batch.targets)
                .item();
        }
    }
    total / cfg.eval_batches.max(1) as f64
}

/// Trains a language model on `data`: next-token cross-entropy on random
/// windows (consecutive windows with carried state for recurrent models).
pub fn train<M: LanguageModel>(
    model: &mut M,
    data: &Dataset,
    cfg: &TrainConfig,
) -> Result<History, TrainError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut streams = model
        .recurrent()
        .then(|| StreamSampler::new(data.train.len(), cfg.batch, cfg.context));
    fit(
        model,
        cfg,
        |_step| match streams.as_mut() {
            Some(streams) => streams.next_batch(&data.train),
            None => (random_batch(&data.train, cfg.batch, cfg.context, &mut rng), true),
        },
        |model, g, batch, carry| model.logits(g, batch, carry).cross_entropy(&batch.targets),
        |m| evaluate(m, data, Split::Val, cfg),
    )
}

/// Rows `i·B/n .. (i+1)·B/n` of a batch and of the carried state `[B, …]`.
fn shard(batch: &Batch, carry: &Option<Tensor>, i: usize, n: usize) -> (Batch, Option<Tensor>) {
    let (lo, hi) = (i * batch.batch / n, (i + 1) * batch.batch / n);
    let t = batch.time;
    let part = Batch {
        inputs: batch.inputs[lo * t..hi * t].to_vec(),
        targets: batch.targets[lo * t..hi * t].to_vec(),
        batch: hi - lo,
        time: t,
    };
    let carry = carry.as_ref().map(|c| {
        let row = c.numel() / batch.batch;
        let mut dims = c.dims().to_vec();
        dims[0] = hi - lo;
        Tensor::from_slice(&dims, &c.data()[lo * row..hi * row])
    });
    (part, carry)
}

// ANCHOR: training_step
/// The training loop itself, for any model and objective. Each step takes the
/// step's batch from `next_batch` (with whether carried state restarts), splits
/// it into one shard per thread, and on each shard builds a fresh graph, computes
/// `loss` and back-propagates; the shards' gradients, weighted by their share of
/// the batch, add up to the gradient of the whole batch's mean loss. Then the
/// gradient is clipped and AdamW updates the parameters. `validate` runs every
/// `cfg.eval_every` steps.
pub fn fit<M, B, L, V>(
    model: &mut M,
    cfg: &TrainConfig,
    mut next_batch: B,
    loss: L,
    mut validate: V,
) -> Result<History, TrainError>
where
    M: Module<f32> + Sync,
    B: FnMut(usize) -> (Batch, bool),
    L: for<'g> Fn(&M, &'g Graph, &Batch, &mut Option<Tensor>) -> Var<'g> + Sync,
    V: FnMut(&M) -> f64,
{
    let mut opt = AdamW::new(cfg.schedule.lr(0))
        .betas(cfg.betas.0, cfg.betas.1)
        .weight_decay(cfg.weight_decay, cfg.decay_filter);
    let mut history = History::default();
    let mut carry: Option<Tensor> = None;
    let bar = progress_bar(cfg);
    for step in 0..cfg.steps {
        let started = Instant::now();
        opt.set_lr(cfg.schedule.lr(step));
        let (batch, restart) = next_batch(step);
        if restart {
            carry = None;
        }
        let shards = cfg.shards.unwrap_or_else(crate::kernels::threads);
        let (loss_value, next_carry) = batch_gradients(model, &batch, carry.take(), shards, &loss);
        if !loss_value.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                step,
                loss: loss_value,
            });
        }
        carry = next_carry;
        let mut params = model.params_mut();
        if let Some(p) = params.iter().find(|p| {
            p.grad
                .as_ref()
                .is_some_and(|g| g.data().iter().any(|x| !x.is_finite()))
        }) {
            return Err(TrainError::NonFiniteGradient {
                step,
                param: p.name.clone(),
            });
        }
        if let Some(max_norm) = cfg.clip {
            clip_grad_norm(&mut params, max_norm);
        }
        opt.step(&mut params);
        let elapsed = started.elapsed().as_secs_f64();
        history.seconds += elapsed;
        history.step_seconds.push(elapsed);
        history.tokens += batch.batch * batch.time;
        history.train.push((step, loss_value));
        if (step + 1) % cfg.eval_every == 0 || step + 1 == cfg.steps {
            history.val.push((step + 1, validate(model)));
        }
        bar.set_position(step as u64 + 1);
        bar.set_message(format!(
            "loss {:.3}  val {:.3}  {:.0} tok/s",
            history.final_train(20),
            history.final_val(),
            history.tokens_per_second()
        ));
    }
    bar.finish_and_clear();
    Ok(history)
}
// ANCHOR_END: training_step

/// The mean loss of a batch and its gradient, left in each parameter's `grad`:
/// the batch is split into `shards` parts by rows, each part's loss is
/// back-propagated on its own thread with its own graph, and the parts'
/// gradients, weighted by their share of the rows, are added up. Returns the
/// loss and the carried state after the batch (rows rejoined).
pub fn batch_gradients<M, L>(
    model: &mut M,
    batch: &Batch,
    carry: Option<Tensor>,
    shards: usize,
    loss: &L,
) -> (f64, Option<Tensor>)
where
    M: Module<f32> + Sync,
    L: for<'g> Fn(&M, &'g Graph, &Batch, &mut Option<Tensor>) -> Var<'g> + Sync,
{
    let n = shards.clamp(1, batch.batch);
    let shared: &M = model;
    let parts = crate::kernels::map_shards(n, |i| {
        let (part, mut part_carry) = shard(batch, &carry, i, n);
        let weight = part.batch as f32 / batch.batch as f32;
        let g = Graph::new();
        let l = loss(shared, &g, &part, &mut part_carry);
        let value = l.item();
        // Seeding the backward pass with the shard's weight scales its gradients.
        let grads = g.backward_with(l, Tensor::full(l.shape(), weight));
        (value * weight as f64, grads, part_carry)
    });
    let loss_value: f64 = parts.iter().map(|p| p.0).sum();
    let carries: Vec<Tensor> = parts.iter().filter_map(|p| p.2.clone()).collect();
    let carry = (carries.len() == n).then(|| concat_rows(&carries));
    let mut params = model.params_mut();
    for (i, (_, grads, _)) in parts.into_iter().enumerate() {
        if i == 0 {
            grads.assign(&mut params);
        } else {
            grads.accumulate(&mut params);
        }
    }
    (loss_value, carry)
}

/// Stacks tensors `[b_i, …]` into `[Σ b_i, …]`.
fn concat_rows(parts: &[Tensor]) -> Tensor {
    let mut dims = parts[0].dims().to_vec();
    dims[0] = parts.iter().map(|p| p.dims()[0]).sum();
    let data: Vec<f32> = parts.iter().flat_map(|p| p.data().iter().copied()).collect();
    Tensor::from_vec(&dims, data)
}

fn progress_bar(cfg: &TrainConfig) -> ProgressBar {
    if !cfg.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(cfg.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(cfg.label.clone());
    bar
}

/// Loss and logits at the last position of each sequence: where the recall task
/// asks its question.
fn last_position<'g, M: LanguageModel>(model: &M, g: &'g Graph, batch: &Batch) -> Var<'g> {
    let logits = model.logits(g, batch, &mut None);
    let v = model.vocab_size();
    logits
        .slice(1, batch.time - 1, batch.time)
        .reshape([batch.batch, v])
}

/// Trains `model` on the recall task ([`RecallTask`]) with a number of
/// distractors drawn uniformly from `ks` at every step; the loss is the
/// cross-entropy of the answer only. Validation reports recall error (1 − accuracy)
/// at the largest k.
pub fn train_recall<M: LanguageModel>(
    model: &mut M,
    task: &RecallTask,
    ks: std::ops::RangeInclusive<usize>,
    cfg: &TrainConfig,
) -> Result<History, TrainError> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let k_max = *ks.end();
    fit(
        model,
        cfg,
        |_step| {
            let k = rng.random_range(ks.clone());
            (task.batch(cfg.batch, k, &mut rng), true)
        },
        |model, g, batch, _carry| last_position(model, g, batch).cross_entropy(&RecallTask::answers(batch)),
        |m| 1.0 - recall_accuracy(m, task, k_max, 256, cfg.seed ^ 0xacc),
    )
}

/// Fraction of `n` fresh sequences with `k` distractors whose symbol the model
/// recalls (argmax of its last logits).
pub fn recall_accuracy<M: LanguageModel>(model: &M, task: &RecallTask, k: usize, n: usize, seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let batch = task.batch(n, k, &mut rng);
    let g = Graph::inference();
    let logits = last_position(model, &g, &batch).value();
    let v = model.vocab_size();
    let correct = logits
        .data()
        .chunks(v)
        .zip(RecallTask::answers(&batch))
        .filter(|(row, s)| argmax(row) == *s)
        .count();
    correct as f64 / n as f64
}

/// The loss −ln P(x_{i+1} | x_0..x_i) of every prediction in `tokens` (entry i
/// scores token i + 1), as the model reads the text in windows of `context`:
/// recurrent models in consecutive windows with their state carried across;
/// others in overlapping windows (stride context/2) where each prediction is
/// taken from the window that gives it the most history.
pub fn per_token_loss<M: LanguageModel>(model: &M, tokens: &[usize], context: usize) -> Vec<f64> {
    let n = tokens.len() - 1;
    let mut loss = vec![f64::NAN; n];
    let v = model.vocab_size();
    let mut score = |start: usize, len: usize, first: usize, carry: &mut Option<Tensor>| {
        let batch = windows_at(tokens, start, len);
        let g = Graph::inference();
        let logits = model.logits(&g, &batch, carry).value();
        for (i, row) in logits.data().chunks(v).enumerate().skip(first) {
            loss[start + i] = crate::sample::nll(row, batch.targets[i]);
        }
    };
    if model.recurrent() {
        let mut carry = None;
        for start in (0..n).step_by(context) {
            score(start, context.min(n - start), 0, &mut carry);
        }
    } else {
        let stride = (context / 2).max(1);
        let mut start = 0;
        loop {
            let len = context.min(n - start);
            score(
                start,
                len,
                if start == 0 { 0 } else { context - stride },
                &mut None,
            );
            if start + len >= n {
                break;
            }
            start += stride;
        }
    }
    loss
}

/// One window of `len` inputs at `start` (batch of one).
fn windows_at(tokens: &[usize], start: usize, len: usize) -> Batch {
    crate::data::windows(tokens, &[start], len)
}
