//! Data parallelism: one training step's batch cut into shards by rows, each
//! shard's loss back-propagated on its own thread with its own graph, and the
//! shards' gradients summed, weighted by their share of the rows, into the
//! gradient of the whole batch's mean loss.

use crate::autograd::{Graph, Module, Var, profile};
use crate::data::Batch;
use crate::models::State;
use crate::tensor::Tensor;
use crate::threads::{run_shares, with_threads};
use std::sync::Mutex;

/// Runs `job(0)`, …, `job(n − 1)` at the same time, one per thread (the caller
/// and `n − 1` workers), each with its matrix products kept on its own thread,
/// and returns the results in order.
pub fn map_shards<R: Send>(n: usize, job: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    run_shares(n, n, |i| {
        let r = with_threads(1, || job(i));
        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every shard ran"))
        .collect()
}

/// Rows `i·B/n .. (i+1)·B/n` of a batch.
fn shard(batch: &Batch, i: usize, n: usize) -> Batch {
    let (lo, hi) = (i * batch.batch / n, (i + 1) * batch.batch / n);
    let t = batch.time;
    Batch {
        inputs: batch.inputs[lo * t..hi * t].to_vec(),
        targets: batch.targets[lo * t..hi * t].to_vec(),
        batch: hi - lo,
        time: t,
    }
}

/// The mean loss of a batch and its gradient, left in each parameter's `grad`,
/// computed in `shards` parts on as many threads. `state` is what the model
/// carries into the batch; returns the loss and the state after it (rows rejoined).
pub fn batch_gradients<M, S, L>(model: &mut M, batch: &Batch, state: S, shards: usize, loss: &L) -> (f64, S)
where
    M: Module<f32> + Sync,
    S: State,
    L: for<'g> Fn(&M, &'g Graph, &Batch, &mut S) -> Var<'g> + Sync,
{
    let n = shards.clamp(1, batch.batch);
    let shared: &M = model;
    let parts = map_shards(n, |i| {
        let part = shard(batch, i, n);
        let lo = i * batch.batch / n;
        let mut part_state = state.rows(lo, lo + part.batch, batch.batch);
        let weight = part.batch as f32 / batch.batch as f32;
        let g = Graph::new();
        let l = loss(shared, &g, &part, &mut part_state);
        let value = l.item();
        // Seeding the backward pass with the shard's weight scales its gradients.
        let grads = g.backward_with(l, Tensor::full(l.shape(), weight));
        (value * weight as f64, grads, part_state)
    });
    let loss_value: f64 = parts.iter().map(|p| p.0).sum();
    let mut params = model.params_mut();
    let states = profile::time("sum of the shards' gradients", || {
        let mut states = Vec::with_capacity(n);
        for (i, (_, grads, part_state)) in parts.into_iter().enumerate() {
            if i == 0 {
                grads.assign(&mut params);
            } else {
                grads.accumulate(&mut params);
            }
            states.push(part_state);
        }
        states
    });
    (loss_value, S::join(states))
}
