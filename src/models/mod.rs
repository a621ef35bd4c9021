//! The models of the course, from counting to attention.
//!
//! | file | model | chapter |
//! |---|---|---|
//! | `ngram.rs` | count-based character n-grams (no learning, fixed memory of k characters) | 1 |
//! | `bigram.rs` | a neural bigram: one embedding row of logits per character | 1 |
//! | `rnn.rs` | the vanilla RNN of Eq. 4.1, memory in its hidden state | 3.1, 4.1 |

pub mod bigram;
pub mod ngram;
pub mod rnn;

pub use bigram::Bigram;
pub use ngram::{NGram, Smoothing};
pub use rnn::{Activation, Rnn};
