//! An attention-only Transformer, the model in which Elhage et al. (2021) and
//! Olsson et al. (2022) study induction heads: token embedding plus the
//! sinusoidal positions, then layers that each add their multi-head attention
//! to the residual stream, x ← x + attention(x), and the output layer. No
//! feed-forward layers and no layer norm, so every path from a token to a
//! logit goes through attention heads and nothing else.

use super::LanguageModel;
use super::transformer::MultiheadAttention;
use crate::autograd::{Graph, Init, Var};
use crate::data::Batch;
use crate::nn::{Embedding, Linear, Positions};
use crate::tensor::{Float, Tensor};

crate::module! {
    /// Embedding, `layers` causal attention layers on a residual stream, output layer.
    pub struct AttentionOnly<E> {
        params {
            pub embed: Embedding<E>,
            pub layers: Vec<MultiheadAttention<E>>,
            pub out: Linear<E>,
        }
        /// The sinusoidal table `[context, D]` (a constant).
        pub pos_encode: Positions<E>,
    }
}

impl<E: Float> AttentionOnly<E> {
    /// Panics if `dim` is not a positive multiple of `heads` or is odd.
    pub fn new<I: Init<E> + ?Sized>(
        vocab: usize,
        dim: usize,
        heads: usize,
        layers: usize,
        context: usize,
        init: &mut I,
    ) -> Self {
        assert!(
            heads > 0 && dim.is_multiple_of(heads) && dim.is_multiple_of(2),
            "AttentionOnly: width {dim} must be even and divisible by {heads} heads"
        );
        AttentionOnly {
            embed: Embedding::new("embed", vocab, dim, init),
            layers: (0..layers)
                .map(|i| MultiheadAttention::new(&format!("layers.{i}"), dim, heads, init))
                .collect(),
            out: Linear::new("out", dim, vocab, init),
            pos_encode: Positions::new(context, dim),
        }
    }

    /// Logits `[B, T, V]`, and every layer's attention weights `[B, H, T, T]`.
    pub fn forward_with_maps<'g>(
        &self,
        g: &'g Graph<E>,
        ids: &[usize],
        batch: usize,
        time: usize,
    ) -> (Var<'g, E>, Vec<Tensor<E>>) {
        assert!(
            time <= self.pos_encode.context(),
            "AttentionOnly: a sequence of {time} tokens is longer than the context of {}",
            self.pos_encode.context()
        );
        let mut x = self.embed.forward(g, ids, [batch, time]) + g.constant(self.pos_encode.first(time));
        let mut maps = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (attended, w) = layer.forward_with_weights(g, x, true);
            maps.push(w);
            x = x + attended;
        }
        (self.out.forward(g, x), maps)
    }
}

impl LanguageModel for AttentionOnly<f32> {
    type State = ();

    fn vocab_size(&self) -> usize {
        self.out.out_dim()
    }

    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        self.forward_with_maps(g, &batch.inputs, batch.batch, batch.time)
            .0
    }
}
