//! Character n-gram models: predict the next character from the previous k by
//! counting, with no learning and a memory of exactly k characters.

use std::collections::HashMap;

/// How counts become probabilities when a context was rarely or never seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Smoothing {
    /// Laplace: P(c | h) = (C(h c) + 1) / (C(h) + V). Simple, but for long
    /// contexts almost every count is 0 and the estimate drifts to uniform.
    AddOne,
    /// Interpolated Witten–Bell: mix the order-k estimate with the order-(k−1)
    /// one, trusting the longer context more the more often it was seen and the
    /// fewer different characters followed it:
    /// P_k(c | h) = (C(h c) + T(h)·P_{k−1}(c | h′)) / (C(h) + T(h)),
    /// with T(h) the number of distinct characters seen after h and h′ = h
    /// without its oldest character; below order 0 the distribution is uniform.
    WittenBell,
}

/// Counts after one context: how often, and how often each next character.
#[derive(Clone, Debug, Default)]
struct Continuations {
    total: u32,
    next: Vec<(u16, u32)>,
}

impl Continuations {
    fn count(&self, c: u16) -> u32 {
        self.next.iter().find(|(id, _)| *id == c).map_or(0, |&(_, n)| n)
    }
}

/// Counts of every context of length 0..=k in a training text.
pub struct NGram {
    k: usize,
    vocab: usize,
    /// `tables[j]` maps a context of length j (packed) to what followed it.
    tables: Vec<HashMap<u128, Continuations>>,
}

/// Packs up to 8 ids of < 2¹⁶ into one key.
fn key(context: &[usize]) -> u128 {
    context.iter().fold(0u128, |acc, &id| (acc << 16) | id as u128)
}

impl NGram {
    /// Counts every context of length 0..=k (k ≤ 8) in `tokens`.
    pub fn fit(tokens: &[usize], vocab: usize, k: usize) -> Self {
        assert!(k <= 8, "NGram: contexts of at most 8 characters, asked for {k}");
        assert!(
            vocab <= 1 << 16,
            "NGram: vocabularies of at most 65536, got {vocab}"
        );
        let mut tables: Vec<HashMap<u128, Continuations>> = vec![HashMap::new(); k + 1];
        for i in 0..tokens.len() {
            let c = tokens[i] as u16;
            for (j, table) in tables.iter_mut().enumerate().take(i.min(k) + 1) {
                let e = table.entry(key(&tokens[i - j..i])).or_default();
                e.total += 1;
                match e.next.iter_mut().find(|(id, _)| *id == c) {
                    Some((_, n)) => *n += 1,
                    None => e.next.push((c, 1)),
                }
            }
        }
        NGram { k, vocab, tables }
    }

    /// The longest context this model counted.
    pub fn max_order(&self) -> usize {
        self.k
    }

    /// Number of distinct contexts of length j seen in training.
    pub fn contexts(&self, j: usize) -> usize {
        self.tables[j].len()
    }

    // ANCHOR: ngram_prob
    /// P(next | context) using the last `k` characters of `context`.
    pub fn prob(&self, context: &[usize], next: usize, k: usize, smoothing: Smoothing) -> f64 {
        assert!(
            k <= self.k,
            "NGram::prob: order {k} exceeds the fitted {}",
            self.k
        );
        let k = k.min(context.len());
        let c = next as u16;
        let v = self.vocab as f64;
        match smoothing {
            Smoothing::AddOne => {
                let h = &context[context.len() - k..];
                let (n_hc, n_h) = self.tables[k]
                    .get(&key(h))
                    .map_or((0, 0), |e| (e.count(c), e.total));
                (n_hc as f64 + 1.0) / (n_h as f64 + v)
            }
            Smoothing::WittenBell => {
                // Build up from the empty context (order 0) to order k.
                let mut p = 1.0 / v;
                for j in 0..=k {
                    let h = &context[context.len() - j..];
                    if let Some(e) = self.tables[j].get(&key(h)) {
                        let t = e.next.len() as f64;
                        p = (e.count(c) as f64 + t * p) / (e.total as f64 + t);
                    }
                }
                p
            }
        }
    }
    // ANCHOR_END: ngram_prob

    /// Mean −ln P(xᵢ | previous k) in nats over positions `start..` of `tokens`
    /// (`start` ≥ k, so every position has a full context), optionally only
    /// where `mask` is true (mask indexes `tokens`).
    pub fn cross_entropy(
        &self,
        tokens: &[usize],
        start: usize,
        k: usize,
        smoothing: Smoothing,
        mask: Option<&[bool]>,
    ) -> f64 {
        let (mut total, mut n) = (0.0, 0usize);
        for i in start.max(k)..tokens.len() {
            if mask.is_some_and(|m| !m[i]) {
                continue;
            }
            total -= self.prob(&tokens[i - k..i], tokens[i], k, smoothing).ln();
            n += 1;
        }
        total / n.max(1) as f64
    }
}
