//! The models of the course, from counting to attention.
//!
//! | file | model | chapter |
//! |---|---|---|
//! | `ngram.rs` | count-based character n-grams (no learning, fixed memory of k characters) | 1 |
//! | `bigram.rs` | a neural bigram: one embedding row of logits per character | 1 |
//! | `rnn.rs` | the vanilla RNN of Eq. 4.1, memory in its hidden state | 3.1, 4.1 |
//! | `eq42.rs` | the one-head, one-layer Transformer of Eq. 4.2, exactly as written | 3.2, 4.2 |
//! | `transformer.rs` | the `TransformerBlock` / `TransformerLM` of §5, with KV cache | 5 |

pub mod bigram;
pub mod eq42;
pub mod ngram;
pub mod rnn;
pub mod transformer;

pub use bigram::Bigram;
pub use eq42::{Eq42, Eq42Config};
pub use ngram::{NGram, Smoothing};
pub use rnn::{Activation, Rnn};
pub use transformer::{KvCache, TransformerBlock, TransformerConfig, TransformerLM};
