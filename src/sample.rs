//! Choosing the next token from a model's logits: greedy, with a temperature,
//! or from the k most likely.

use rand::RngExt;
use rand::rngs::StdRng;
use std::fmt;
use std::str::FromStr;

/// How the next token is picked from the logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampling {
    /// The most likely token (ties: the lowest id). Deterministic.
    Greedy,
    /// Draw from softmax(logits / T): T < 1 sharpens, T > 1 flattens.
    Temperature(f32),
    /// Keep the k most likely tokens, then draw from softmax(logits / T) over them.
    TopK { k: usize, temperature: f32 },
}

// ANCHOR: choose
impl Sampling {
    /// Picks a token id from one row of logits; `None` if a logit is NaN or
    /// infinite (no choice among such numbers means anything).
    pub fn choose(&self, logits: &[f32], rng: &mut StdRng) -> Option<usize> {
        assert!(!logits.is_empty(), "Sampling::choose: no logits");
        if logits.iter().any(|z| !z.is_finite()) {
            return None;
        }
        Some(match *self {
            Sampling::Greedy => argmax(logits),
            Sampling::Temperature(t) => draw(logits, logits.len(), t, rng),
            Sampling::TopK { k, temperature } => draw(logits, k.clamp(1, logits.len()), temperature, rng),
        })
    }
}
// ANCHOR_END: choose

/// Why a model could not generate.
#[derive(Clone, Debug, PartialEq)]
pub enum GenerateError {
    /// The prompt holds no token: there is nothing to continue.
    EmptyPrompt,
    /// The logits for new token `at` (counted from 0) hold `value`, a NaN or
    /// an infinity: the model's numbers have gone bad.
    NotFinite { at: usize, value: f32 },
}

impl GenerateError {
    /// The error for logits that [`Sampling::choose`] refused.
    pub fn not_finite(at: usize, logits: &[f32]) -> Self {
        let value = logits
            .iter()
            .copied()
            .find(|z| !z.is_finite())
            .unwrap_or(f32::NAN);
        GenerateError::NotFinite { at, value }
    }
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::EmptyPrompt => write!(
                f,
                "the prompt is empty: generation needs at least one token to continue"
            ),
            GenerateError::NotFinite { at, value } => write!(
                f,
                "generation stopped at new token {at}: the model's logits hold {value} (its weights or inputs are not finite numbers)"
            ),
        }
    }
}

impl std::error::Error for GenerateError {}

/// Index of the largest value (the first one on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The probabilities softmax(logits), computed in f64 (for printing and scoring).
pub fn probabilities(logits: &[f32]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&z| ((z - m) as f64).exp()).collect();
    let total: f64 = e.iter().sum();
    e.into_iter().map(|x| x / total).collect()
}

/// −log softmax(logits)\[target\] in nats, computed in f64: the loss of one
/// prediction, log Σⱼ e^{zⱼ − m} − (z_target − m) with m the largest logit.
pub fn nll(logits: &[f32], target: usize) -> f64 {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|&z| ((z - m) as f64).exp()).sum::<f64>().ln();
    log_sum - (logits[target] - m) as f64
}

// ANCHOR: draw
/// Draws among the `k` largest logits with softmax(logit / t).
fn draw(logits: &[f32], k: usize, t: f32, rng: &mut StdRng) -> usize {
    assert!(t > 0.0, "sampling temperature must be positive, got {t}");
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order.truncate(k);
    let m = logits[order[0]];
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| (((logits[i] - m) / t) as f64).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (&i, &w) in order.iter().zip(&weights) {
        if u < w {
            return i;
        }
        u -= w;
    }
    order[k - 1]
}
// ANCHOR_END: draw

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sampling::Greedy => write!(f, "greedy"),
            Sampling::Temperature(t) => write!(f, "temperature {t}"),
            Sampling::TopK { k, temperature } => write!(f, "top-{k} at temperature {temperature}"),
        }
    }
}

impl FromStr for Sampling {
    type Err = String;

    /// `greedy`, `temp:0.8` or `topk:5:0.8`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |x: &str| x.parse::<f32>().ok().filter(|t| *t > 0.0 && t.is_finite());
        match parts.as_slice() {
            ["greedy"] => Ok(Sampling::Greedy),
            ["temp", t] => num(t)
                .map(Sampling::Temperature)
                .ok_or(format!("bad temperature in {s:?}")),
            ["topk", k, t] => match (k.parse::<usize>(), num(t)) {
                (Ok(k), Some(temperature)) if k > 0 => Ok(Sampling::TopK { k, temperature }),
                _ => Err(format!(
                    "bad top-k in {s:?}: expected topk:K:T with K ≥ 1 and T > 0"
                )),
            },
            _ => Err(format!(
                "unknown sampling {s:?}: expected greedy, temp:T or topk:K:T"
            )),
        }
    }
}
