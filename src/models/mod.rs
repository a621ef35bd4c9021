//! The models of the course, from counting to attention, and the interface a
//! trainer, an evaluator and a sampler need from them.
//!
//! | file | model | chapter |
//! |---|---|---|
//! | `ngram.rs` | count-based character n-grams (no learning, fixed memory of k characters) | 1 |
//! | `bigram.rs` | a neural bigram: one embedding row of logits per character | 1 |
//! | `rnn.rs` | the vanilla RNN of Eq. 4.1, memory in its hidden state | 3.1, 4.1 |
//! | `gru.rs` | the gated recurrent unit: the same size of state, kept by a gate | 3 |
//! | `eq42.rs` | the one-head, one-layer Transformer of Eq. 4.2, exactly as written | 3.2, 4.2 |
//! | `transformer.rs` | the `TransformerBlock` / `TransformerLM` of §5, with KV cache | 5 |
//! | `attention_only.rs` | attention layers on a residual stream and nothing else (induction heads) | 2 |

pub mod attention_only;
pub mod bigram;
pub mod eq42;
pub mod gru;
pub mod ngram;
pub mod rnn;
pub mod transformer;

pub use attention_only::AttentionOnly;
pub use bigram::Bigram;
pub use eq42::{Eq42, Eq42Config};
pub use gru::Gru;
pub use ngram::{NGram, Smoothing};
pub use rnn::{Activation, Hidden, Rnn};
pub use transformer::{KvCache, MultiheadAttention, TransformerBlock, TransformerConfig, TransformerLM};

use crate::autograd::{Graph, Module, Var};
use crate::data::{Batch, Reading};

// ANCHOR: language_model
/// What the trainer and the evaluators need from a language model: token ids in,
/// logits out, and its parameters (as a [`Module`]).
pub trait LanguageModel: Module<f32> + Sync {
    /// What the model carries from one window of a text to the next: `()` for a
    /// model that reads every window afresh, the hidden state for an RNN.
    type State: State;

    fn vocab_size(&self) -> usize;

    /// Logits `[B, T, V]` for the windows of `batch` (`[B, T]` ids), each read
    /// from its start.
    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g>;

    /// Logits for windows that continue where `state` left off, leaving in
    /// `state` what the next windows continue from. A model that carries
    /// nothing (`State = ()`) reads each window afresh; one that carries
    /// something must override this (a model that does not is a compile error
    /// where this default is used).
    fn logits_after<'g>(&self, g: &'g Graph, batch: &Batch, state: &mut Self::State) -> Var<'g> {
        const {
            assert!(
                size_of::<Self::State>() == 0,
                "a model that carries state must implement logits_after"
            )
        };
        let _ = state;
        self.logits(g, batch)
    }
}

/// What a model carries across windows of a text, for the trainer: how the
/// model reads a text, and how the state of a batch is cut into the rows of
/// data-parallel shards and put back together.
pub trait State: Default + Send + Sync {
    /// How a model with this state reads a text longer than its window.
    const READING: Reading;

    /// The state of rows `lo..hi` of a batch of `rows` rows.
    fn rows(&self, lo: usize, hi: usize, rows: usize) -> Self;

    /// The states of consecutive row ranges, joined back into one.
    fn join(parts: Vec<Self>) -> Self;
}

/// Nothing to carry: random windows, each read from its start.
impl State for () {
    const READING: Reading = Reading::RandomWindows;
    fn rows(&self, _: usize, _: usize, _: usize) -> Self {}
    fn join(_: Vec<Self>) -> Self {}
}
// ANCHOR_END: language_model
