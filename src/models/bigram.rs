//! The neural bigram: the smallest learned language model. Its only parameter is
//! a table with one row of logits per character: it sees exactly one character
//! of the past.

use super::LanguageModel;
use crate::autograd::{Graph, Init, Var};
use crate::data::Batch;
use crate::nn::Embedding;
use crate::tensor::Float;

crate::module! {
    /// logits(x_{t+1} | x_t) = row x_t of a V×V table.
    pub struct Bigram<E> {
        params {
            pub table: Embedding<E>,
        }
    }
}

impl<E: Float> Bigram<E> {
    pub fn new<I: Init<E> + ?Sized>(vocab: usize, init: &mut I) -> Self {
        Bigram {
            table: Embedding::new("table", vocab, vocab, init),
        }
    }
}

impl LanguageModel for Bigram {
    type State = ();

    fn vocab_size(&self) -> usize {
        self.table.num()
    }

    // ANCHOR: bigram_logits
    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        // Row x_t of the table is the vector of logits for x_{t+1}.
        self.table.forward(g, &batch.inputs, [batch.batch, batch.time])
    }
    // ANCHOR_END: bigram_logits
}
