//! The training loop itself, for any model, objective and optimizer.

use super::progress::Progress;
use super::{History, PATIENCE, Snapshot, TrainConfig, TrainError, overfitting, shards};
use crate::autograd::{Graph, Module, Var, profile};
use crate::data::Batch;
use crate::models::State;
use crate::optim::{Optimizer, clip_to_norm, grad_norm};
use std::time::Instant;

// ANCHOR: training_step
/// Trains `model` for `cfg.steps` steps. Each step takes the step's batch from
/// `next_batch` (with whether the carried state `S` starts afresh), splits it
/// into one shard per thread, and on each shard builds a fresh graph, computes
/// `loss` and back-propagates; the shards' gradients, weighted by their share of
/// the batch, add up to the gradient of the whole batch's mean loss. Then the
/// gradient is clipped and `opt` updates the parameters, at the schedule's
/// learning rate. `validate` runs every `cfg.eval_every` steps; once the
/// validation loss has risen for [`PATIENCE`] validations a warning says so.
pub fn fit<M, S, O, B, L, V>(
    model: &mut M,
    opt: &mut O,
    cfg: &TrainConfig,
    mut next_batch: B,
    loss: L,
    mut validate: V,
) -> Result<History, TrainError>
where
    M: Module<f32> + Sync,
    S: State,
    O: Optimizer<f32>,
    B: FnMut(usize) -> (Batch, bool),
    L: for<'g> Fn(&M, &'g Graph, &Batch, &mut S) -> Var<'g> + Sync,
    V: FnMut(&M) -> f64,
{
    let mut history = History::default();
    let mut state = S::default();
    let mut progress = Progress::start(cfg);
    let mut warned = false;
    for step in 0..cfg.steps {
        let started = Instant::now();
        opt.set_lr(cfg.schedule.lr(step));
        let (batch, restart) = next_batch(step);
        if restart {
            state = S::default();
        }
        let shards = cfg.shards.unwrap_or_else(crate::threads::threads);
        let (loss_value, next_state) = shards::batch_gradients(model, &batch, state, shards, &loss);
        if !loss_value.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                step,
                loss: loss_value,
            });
        }
        state = next_state;
        let mut params = model.params_mut();
        // The global norm of the gradient, which is finite exactly when every
        // gradient is: the finite check and the clipping's norm in one pass.
        let norm = profile::time("gradient norm and finite check", || grad_norm(&params));
        if !norm.is_finite() {
            let name = params
                .iter()
                .find(|p| {
                    p.grad
                        .as_ref()
                        .is_some_and(|g| g.data().iter().any(|x| !x.is_finite()))
                })
                .map_or_else(|| "(unknown)".to_string(), |p| p.name.clone());
            return Err(TrainError::NonFiniteGradient { step, param: name });
        }
        if let Some(max_norm) = cfg.clip {
            profile::time("gradient clipping", || clip_to_norm(&mut params, norm, max_norm));
        }
        profile::time("optimizer step", || opt.step(&mut params));
        let elapsed = started.elapsed().as_secs_f64();
        history.seconds += elapsed;
        history.step_seconds.push(elapsed);
        history.tokens += batch.batch * batch.time;
        history.train.push((step, loss_value));
        if (step + 1) % cfg.eval_every == 0 || step + 1 == cfg.steps {
            let val = validate(model);
            history.val.push((step + 1, val));
            let best = history.best.as_ref().map_or(f64::INFINITY, |b| b.val);
            if cfg.keep_best && val < best {
                history.best = Some(Snapshot::of(model, step + 1, val));
            }
            let found = overfitting(&history.val, &history.train, PATIENCE);
            if let Some(o) = found.filter(|_| cfg.warn_overfitting && !warned) {
                warned = true;
                progress.warn(&format!(
                    "   warning: {}: the validation loss has risen for {} validations, from {:.3} at step {} to {:.3} \
                     at step {}, while the training loss still falls: the model is learning its training text by \
                     heart (a small text for this model: a larger one, or about {} steps, would do better)",
                    cfg.label, o.since, o.best, o.best_step, o.last, o.last_step, o.best_step
                ));
            }
        }
        progress.update(step, &history);
    }
    progress.finish();
    Ok(history)
}
// ANCHOR_END: training_step
