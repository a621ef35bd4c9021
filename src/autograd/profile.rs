//! Where a training step spends its time, per kind of operation.
//!
//! Switched off, it costs one relaxed atomic load per recorded node. Switched
//! on ([`start`] … [`stop`]), every graph built in between times its nodes:
//!
//! * **forward:** the time from the previous node of the same graph to this
//!   one, which is the time the op took to compute its value (the ops compute
//!   their value, then record it; what runs between two ops, such as building
//!   a constant, is charged to the next op);
//! * **backward:** each node's closure, timed on its own;
//! * **outside the tape:** sections timed with [`time`] (the optimizer, the
//!   sum of the shards' gradients, clipping).
//!
//! Matrix products (and the `Linear` layers, see [`is_product`]) are told apart
//! by shape (`matmul [2048, 128]·[128, 512]`),
//! the rest by kind. Times are summed over threads: with two shards training
//! in parallel, the table holds thread-seconds, about twice the wall time.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static ON: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<BTreeMap<String, Entry>> = Mutex::new(BTreeMap::new());

/// The time spent in one kind of operation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Entry {
    /// How many nodes (or timed sections) of this kind ran.
    pub calls: usize,
    pub forward_secs: f64,
    pub backward_secs: f64,
}

impl Entry {
    pub fn total_secs(&self) -> f64 {
        self.forward_secs + self.backward_secs
    }
}

/// Which half of the step a time belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Forward,
    Backward,
}

/// Whether a profiled kind is a matrix product: the products and the `Linear`
/// layers (a product with its bias, and ReLU, in one op), each labelled with
/// its operands' shapes.
pub fn is_product(kind: &str) -> bool {
    let op = kind.split(" [").next().unwrap_or(kind);
    PRODUCT_KINDS.contains(&op)
}

/// The op kinds that are matrix products, labelled with their operands' shapes.
pub const PRODUCT_KINDS: [&str; 6] = [
    "matmul",
    "matmul_t",
    "t_matmul",
    "t_matmul_t",
    "linear",
    "linear + relu",
];

/// Is the profiler recording?
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Clears the totals and starts recording.
pub fn start() {
    TOTALS.lock().unwrap_or_else(|e| e.into_inner()).clear();
    ON.store(true, Ordering::Relaxed);
}

/// Stops recording and returns the totals by kind, largest first.
pub fn stop() -> Vec<(String, Entry)> {
    ON.store(false, Ordering::Relaxed);
    let totals = std::mem::take(&mut *TOTALS.lock().unwrap_or_else(|e| e.into_inner()));
    let mut rows: Vec<(String, Entry)> = totals.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_secs().total_cmp(&a.1.total_secs()));
    rows
}

/// Adds `secs` to `kind` (a no-op when the profiler is off).
pub fn record(kind: &str, phase: Phase, secs: f64) {
    if !enabled() {
        return;
    }
    let mut totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    // The kind's name is copied once, when it is first seen.
    if !totals.contains_key(kind) {
        totals.insert(kind.to_string(), Entry::default());
    }
    let e = totals.get_mut(kind).expect("inserted above");
    e.calls += 1;
    match phase {
        Phase::Forward => e.forward_secs += secs,
        Phase::Backward => e.backward_secs += secs,
    }
}

/// Runs `f`, charging its time to `kind` (as forward work: it is neither half
/// of the tape, and the table shows it in the total).
pub fn time<T>(kind: &str, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let started = Instant::now();
    let out = f();
    record(kind, Phase::Forward, started.elapsed().as_secs_f64());
    out
}

/// Runs a node's backward closure, timing it when the node has a profile label.
pub(crate) fn backward_of(label: Option<&str>, f: impl FnOnce()) {
    let Some(kind) = label else {
        return f();
    };
    let started = Instant::now();
    f();
    record(kind, Phase::Backward, started.elapsed().as_secs_f64());
}

/// The totals as table lines, per step of `steps`: kind, calls, forward and
/// backward milliseconds, share of the total; kinds under `min_share` of the
/// total are left out, and the last line is the total.
pub fn table(rows: &[(String, Entry)], steps: usize, min_share: f64) -> Vec<String> {
    let steps = steps.max(1) as f64;
    let total: f64 = rows.iter().map(|(_, e)| e.total_secs()).sum();
    let ms = |s: f64| 1e3 * s / steps;
    let mut lines = vec![format!(
        "{:<44} {:>6} {:>10} {:>10} {:>7}",
        "op kind (products: operand shapes)", "calls", "fwd ms", "bwd ms", "share"
    )];
    for (kind, e) in rows {
        let share = e.total_secs() / total;
        if share >= min_share {
            lines.push(format!(
                "{kind:<44} {:>6} {:>10.2} {:>10.2} {:>6.1}%",
                (e.calls as f64 / steps).round(),
                ms(e.forward_secs),
                ms(e.backward_secs),
                100.0 * share
            ));
        }
    }
    lines.push(format!(
        "{:<44} {:>6} {:>21.2} {:>7}",
        "all, summed over threads",
        "",
        ms(total),
        "100%"
    ));
    lines
}
