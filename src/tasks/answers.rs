//! Prompted tasks ([`crate::data::apps`]): `prompt SEP answer END`, trained on
//! the answer only and scored on what the model writes after the separator.

use crate::autograd::{Graph, Var};
use crate::data::apps::{END, Example, SEP, eval, summary_f1};
use crate::data::{Batch, CharTokenizer, UnknownChars};
use crate::models::LanguageModel;
use crate::optim::Optimizer;
use crate::sample::argmax;
use crate::train::{History, TrainConfig, TrainError, fit};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::ops::Range;

/// An example as ids: `prompt SEP answer END`, and where the answer starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<usize>,
    /// The index in `ids` of the answer's first token (just past the last SEP).
    pub answer_from: usize,
    /// Answers given earlier in the prompt (a conversation's questions in
    /// between, bAbI style), each from its first token through its END:
    /// trained on like the answer, not scored.
    pub earlier: Vec<Range<usize>>,
}

impl Encoded {
    /// The prompt and its separator: what a model is given to answer.
    pub fn prompt(&self) -> &[usize] {
        &self.ids[..self.answer_from]
    }

    /// The answer and END: what a model must write.
    pub fn answer(&self) -> &[usize] {
        &self.ids[self.answer_from..]
    }
}

/// Encodes examples with `tok`; the error names the characters it lacks.
pub fn encode_examples(tok: &CharTokenizer, examples: &[Example]) -> Result<Vec<Encoded>, UnknownChars> {
    let (sep, end) = (tok.id(SEP), tok.id(END));
    examples
        .iter()
        .map(|e| {
            let ids = tok.encode(&e.text())?;
            // The prompt's characters, then SEP: one token each.
            let answer_from = e.prompt.chars().count() + 1;
            let mut earlier = Vec::new();
            let mut open = None;
            for (i, &id) in ids[..answer_from - 1].iter().enumerate() {
                if Some(id) == sep {
                    open = Some(i + 1);
                } else if Some(id) == end
                    && let Some(from) = open.take()
                {
                    earlier.push(from..i + 1);
                }
            }
            Ok(Encoded {
                ids,
                answer_from,
                earlier,
            })
        })
        .collect()
}

/// The target of a position that is not scored.
const NOT_SCORED: usize = usize::MAX;

/// A batch of the examples `chosen`, right-padded to the longest: position t
/// reads `ids[t]` and is scored on `ids[t + 1]` only where that is part of an
/// answer (or its END): the last one or one given earlier in the prompt. The
/// rest of the prompt and the padding are not scored.
pub fn answer_batch(set: &[Encoded], chosen: &[usize], pad: usize) -> Batch {
    let time = chosen.iter().map(|&i| set[i].ids.len() - 1).max().unwrap_or(1);
    let mut inputs = vec![pad; chosen.len() * time];
    let mut targets = vec![NOT_SCORED; chosen.len() * time];
    for (row, &i) in chosen.iter().enumerate() {
        let e = &set[i];
        for t in 0..e.ids.len() - 1 {
            inputs[row * time + t] = e.ids[t];
            if t + 1 >= e.answer_from || e.earlier.iter().any(|r| r.contains(&(t + 1))) {
                targets[row * time + t] = e.ids[t + 1];
            }
        }
    }
    Batch {
        inputs,
        targets,
        batch: chosen.len(),
        time,
    }
}

/// The flat positions of `batch` that are scored, and their targets.
fn scored(batch: &Batch) -> (Vec<usize>, Vec<usize>) {
    batch
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| **t != NOT_SCORED)
        .map(|(i, &t)| (i, t))
        .unzip()
}

/// Logits at the flat positions `at` of `batch`, `[at.len(), V]`.
fn logits_at<'g, M: LanguageModel>(model: &M, g: &'g Graph, batch: &Batch, at: &[usize]) -> Var<'g> {
    model
        .logits(g, batch)
        .reshape([batch.batch * batch.time, model.vocab_size()])
        .embedding(at, [at.len()])
}

/// The loss of a batch: each example's mean cross-entropy over its answer
/// (and END), averaged over the examples. Every example weighs the same
/// whatever its answer's length, so the loss of a batch split into shards by
/// rows (one per thread) is the same for any number of shards.
pub fn answer_loss<'g, M: LanguageModel>(model: &M, g: &'g Graph, batch: &Batch) -> Var<'g> {
    let (at, targets) = scored(batch);
    let logits = logits_at(model, g, batch, &at);
    // `at` ascends, so each row's scored positions are one run of it.
    let mut total: Option<Var<'g>> = None;
    let mut start = 0;
    while start < at.len() {
        let row = at[start] / batch.time;
        let end = start + at[start..].iter().take_while(|&&i| i / batch.time == row).count();
        let l = logits.slice(0, start, end).cross_entropy(&targets[start..end]);
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
        start = end;
    }
    let total = total.expect("every example scores at least its END");
    total.scale(1.0 / batch.batch as f64)
}

/// Trains on batches drawn with replacement from `train`; the loss is the
/// cross-entropy of the answers (and their END) only ([`answer_loss`]).
/// Validation reports the error (1 − exact match) on `val`.
pub fn train_answers<M: LanguageModel>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    (train, val): (&[Encoded], &[Encoded]),
    pad: usize,
    cfg: &TrainConfig,
) -> Result<History, TrainError> {
    assert!(!train.is_empty(), "train_answers: the training set is empty");
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    fit(
        model,
        opt,
        cfg,
        |_step| {
            let chosen: Vec<usize> = (0..cfg.batch).map(|_| rng.random_range(0..train.len())).collect();
            (answer_batch(train, &chosen, pad), true)
        },
        |model, g, batch, _: &mut ()| answer_loss(model, g, batch),
        |m| 1.0 - forced_exact_match(m, val, pad),
    )
}

/// The fraction of `set` whose answer the model gets right at every position
/// when it is shown the right answer so far (teacher forcing). That is exactly
/// the fraction greedy decoding reproduces: greedy decoding leaves the answer
/// at the first position where the argmax is wrong, and not before.
pub fn forced_exact_match<M: LanguageModel>(model: &M, set: &[Encoded], pad: usize) -> f64 {
    let right = forced_right(model, set, pad);
    right.iter().filter(|&&r| r).count() as f64 / set.len().max(1) as f64
}

/// For each example of `set`: is every teacher-forced argmax of its answer
/// (and END) right? Exactly the examples greedy decoding writes word for word,
/// found in one pass instead of one pass per token.
pub fn forced_right<M: LanguageModel>(model: &M, set: &[Encoded], pad: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(set.len());
    for chunk in (0..set.len()).collect::<Vec<_>>().chunks(64) {
        let batch = answer_batch(set, chunk, pad);
        let (at, targets) = scored(&batch);
        let g = Graph::inference();
        let logits = logits_at(model, &g, &batch, &at).value();
        let mut ok = vec![true; chunk.len()];
        for ((row, &t), &i) in logits.data().chunks(model.vocab_size()).zip(&targets).zip(&at) {
            // The final answer only: answers given earlier are part of the prompt.
            let (r, pos) = (i / batch.time, i % batch.time);
            if pos + 1 >= set[chunk[r]].answer_from {
                ok[r] &= argmax(row) == t;
            }
        }
        out.extend(ok);
    }
    out
}

/// What the model writes after each prompt, greedily (the argmax at every
/// step), until it writes `end` or `max_new` tokens or the sequence reaches
/// `context`; `end` itself is not returned. Rows are decoded together: every
/// step reads each row to its current length.
pub fn greedy_answers<M: LanguageModel>(
    model: &M,
    prompts: &[&[usize]],
    end: usize,
    max_new: usize,
    context: usize,
) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(64) {
        let mut seqs: Vec<Vec<usize>> = chunk.iter().map(|p| p.to_vec()).collect();
        let mut done: Vec<bool> = seqs.iter().map(|s| s.len() >= context).collect();
        let mut written: Vec<Vec<usize>> = vec![Vec::new(); chunk.len()];
        for _ in 0..max_new {
            if done.iter().all(|&d| d) {
                break;
            }
            let time = seqs.iter().map(Vec::len).max().unwrap_or(1);
            let mut inputs = vec![end; chunk.len() * time];
            for (row, s) in seqs.iter().enumerate() {
                inputs[row * time..row * time + s.len()].copy_from_slice(s);
            }
            let batch = Batch {
                targets: vec![0; inputs.len()],
                inputs,
                batch: chunk.len(),
                time,
            };
            let g = Graph::inference();
            let logits = model.logits(&g, &batch).value();
            let v = model.vocab_size();
            for row in 0..chunk.len() {
                if done[row] {
                    continue;
                }
                let at = row * time + seqs[row].len() - 1;
                let next = argmax(&logits.data()[at * v..(at + 1) * v]);
                if next == end {
                    done[row] = true;
                } else {
                    written[row].push(next);
                    seqs[row].push(next);
                    done[row] = seqs[row].len() >= context;
                }
            }
        }
        out.extend(written);
    }
    out
}

/// The END id of a task's tokenizer.
pub fn end_id(tok: &CharTokenizer) -> Option<usize> {
    tok.id(END)
}

/// How a task's answers are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judge {
    /// Word for word (dialogue, translation).
    Exact,
    /// By running it: right when it computes the reference's value (code).
    Runs,
    /// Word for word, with the per-item F1 as partial credit (summaries).
    Items,
}

/// One answer's score: right or not (1 or 0), and its F1, which equals
/// `right` except where a task gives partial credit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub right: f64,
    pub f1: f64,
}

impl Judge {
    /// Must an answer that is not right word for word be decoded to be
    /// scored? Only where other words may still be right (a program) or
    /// partly right (a summary).
    pub fn decodes(self) -> bool {
        self != Judge::Exact
    }

    /// The score of one answer. `forced_right`: teacher forcing found it
    /// word for word ([`forced_right`]); `said`: what greedy decoding wrote,
    /// where it was decoded (it may be decoded only to be shown, and then
    /// it does not change the score); `truth`: the reference answer.
    pub fn verdict(self, forced_right: bool, said: Option<&str>, truth: &str) -> Verdict {
        let verdict = |right: bool, f1: f64| Verdict {
            right: f64::from(u8::from(right)),
            f1,
        };
        if forced_right {
            return verdict(true, 1.0);
        }
        match (self, said) {
            (Judge::Exact, _) | (_, None) => verdict(false, 0.0),
            (Judge::Runs, Some(said)) => {
                let right = matches!((eval(said), eval(truth)), (Ok(a), Ok(b)) if a == b);
                verdict(right, f64::from(u8::from(right)))
            }
            (Judge::Items, Some(said)) => verdict(said == truth, summary_f1(said, truth)),
        }
    }
}
