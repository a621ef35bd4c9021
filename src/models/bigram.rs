//! The neural bigram: the smallest learned language model. Its only parameter is
//! a table with one row of logits per character: it sees exactly one character
//! of the past.

use crate::autograd::{Graph, Module, Param, Var};
use crate::data::Batch;
use crate::nn::Embedding;
use crate::tensor::Tensor;
use crate::train::LanguageModel;
use rand::Rng;

/// logits(x_{t+1} | x_t) = row x_t of a V×V table.
pub struct Bigram {
    pub table: Embedding,
}

impl Bigram {
    pub fn new<R: Rng + ?Sized>(vocab: usize, rng: &mut R) -> Self {
        Bigram {
            table: Embedding::new("table", vocab, vocab, rng),
        }
    }
}

impl Module<f32> for Bigram {
    fn params(&self) -> Vec<&Param> {
        self.table.params()
    }
    fn params_mut(&mut self) -> Vec<&mut Param> {
        self.table.params_mut()
    }
}

impl LanguageModel for Bigram {
    fn vocab_size(&self) -> usize {
        self.table.num()
    }

    // ANCHOR: bigram_logits
    fn logits<'g>(&self, g: &'g Graph, batch: &Batch, _carry: &mut Option<Tensor>) -> Var<'g> {
        // Row x_t of the table is the vector of logits for x_{t+1}.
        self.table.forward(g, &batch.inputs, [batch.batch, batch.time])
    }
    // ANCHOR_END: bigram_logits
}
