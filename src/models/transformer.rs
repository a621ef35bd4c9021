//! The PyTorch code of §5, rebuilt: `TransformerBlock` and `TransformerLM`, with
//! the same parameter names and shapes as the `state_dict` of the tutorial's
//! modules (built with `batch_first=True`), plus what §5 leaves out: the
//! positional encoding, the causal mask, and generation with a key–value cache.
//!
//! Every input and output here is `[B, T, D]`, batch first. (`nn.MultiheadAttention`
//! defaults to `[T, B, D]`; the tutorial's code feeds it `[B, T, D]` anyway, which
//! makes it attend across the batch instead of across time. See chapter 5.)

use super::LanguageModel;
use crate::autograd::{Dist, Graph, Init, Param, Var};
use crate::checkpoint::{Checkpoint, CheckpointError, Checkpointed};
use crate::data::Batch;
use crate::nn::{Embedding, FeedForward, LayerNorm, Linear, Positions, join};
use crate::ops::attention_cached;
use crate::sample::{GenerateError, Sampling};
use crate::tensor::{Float, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// The hyperparameters of a [`TransformerLM`] (the keys of a checkpoint's metadata).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransformerConfig {
    pub vocab_size: usize,
    pub embed_dim: usize,
    pub num_heads: usize,
    pub ff_dim: usize,
    pub num_layers: usize,
    /// Longest sequence: the size of the positional table.
    pub context: usize,
    /// Mask the future (true for a language model; §5 as printed has no mask).
    pub causal: bool,
}

impl TransformerConfig {
    /// Panics with a message naming the problem if the sizes do not fit together.
    pub fn validate(&self) {
        if let Err(problem) = self.check() {
            panic!("TransformerConfig: {problem}");
        }
    }

    /// Whether the sizes fit together; `Err` names the problem (for configurations
    /// read from a file, which must not panic).
    pub fn check(&self) -> Result<(), String> {
        if self.num_heads == 0 || !self.embed_dim.is_multiple_of(self.num_heads) {
            return Err(format!(
                "embed_dim {} must be divisible by num_heads {}",
                self.embed_dim, self.num_heads
            ));
        }
        if !self.embed_dim.is_multiple_of(2) {
            return Err(format!("embed_dim {} must be even", self.embed_dim));
        }
        if self.vocab_size == 0 || self.embed_dim == 0 || self.ff_dim == 0 || self.context == 0 {
            return Err(format!("sizes must be positive: {self:?}"));
        }
        Ok(())
    }

    /// FLOPs of one training token (forward and backward): 6·N for the N
    /// weights of the matrix products (every block's attention and
    /// feed-forward matrices and the output layer; not the embedding lookup),
    /// plus 6·L·T·D for causal attention's QKᵀ and A·V. The numerator of the
    /// model FLOPs utilisation (MFU).
    pub fn training_flops_per_token(&self) -> f64 {
        let (d, f, l, t, v) = (
            self.embed_dim,
            self.ff_dim,
            self.num_layers,
            self.context,
            self.vocab_size,
        );
        let n = l * (4 * d * d + 2 * d * f) + d * v;
        6.0 * n as f64 + 6.0 * (l * t * d) as f64
    }
}

crate::module! {
    /// `nn.MultiheadAttention(embed_dim, num_heads)` for self-attention: one packed
    /// input projection for Q, K and V, then the heads, then `out_proj`.
    pub struct MultiheadAttention<E> {
        params {
            /// `[3D, D]`: rows 0..D give Q, D..2D give K, 2D..3D give V.
            pub in_proj_weight: Param<E>,
            /// `[3D]`.
            pub in_proj_bias: Param<E>,
            pub out_proj: Linear<E>,
        }
        pub num_heads: usize,
    }
}

impl<E: Float> MultiheadAttention<E> {
    /// PyTorch's initialisation: `out_proj` built as a `Linear`, then
    /// `in_proj_weight` Xavier-uniform and both biases zero (its
    /// `_reset_parameters`).
    pub fn new<I: Init<E> + ?Sized>(name: &str, dim: usize, num_heads: usize, init: &mut I) -> Self {
        let bound = (6.0 / (dim + 3 * dim) as f64).sqrt();
        let mut out_proj = Linear::new(&join(name, "out_proj"), dim, dim, init);
        if let Some(b) = out_proj.bias.as_mut() {
            init.reset(b, Dist::Zeros);
        }
        MultiheadAttention {
            in_proj_weight: init.uniform(&join(name, "in_proj_weight"), &[3 * dim, dim], bound),
            in_proj_bias: init.zeros(&join(name, "in_proj_bias"), &[3 * dim]),
            out_proj,
            num_heads,
        }
    }

    // ANCHOR: mha_forward
    /// `x: [B, T, D]` → `[B, T, D]`: [Q K V] = x·W_inᵀ + b_in, then per head
    /// softmax(QKᵀ/√d + M)·V, heads concatenated, then `out_proj`.
    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>, causal: bool) -> Var<'g, E> {
        self.forward_with_weights(g, x, causal).0
    }

    /// As `forward`, also returning the attention weights `[B, H, T, T]`.
    pub fn forward_with_weights<'g>(
        &self,
        g: &'g Graph<E>,
        x: Var<'g, E>,
        causal: bool,
    ) -> (Var<'g, E>, Tensor<E>) {
        let qkv = self.in_proj(g, x);
        let (heads, weights) = qkv.attention_with_weights(self.num_heads, causal);
        (self.out_proj.forward(g, heads), weights)
    }

    /// [Q K V] = x·W_inᵀ + b_in, `[.., 3D]`: one product for all three
    /// projections (the training pass and the cached prefill share it).
    pub fn in_proj<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>) -> Var<'g, E> {
        x.linear(
            g.param(&self.in_proj_weight),
            Some(g.param(&self.in_proj_bias)),
            false,
        )
    }
    // ANCHOR_END: mha_forward
}

crate::module! {
    /// One block of §5: post-norm residual attention and feed-forward.
    pub struct TransformerBlock<E> {
        params {
            pub attention: MultiheadAttention<E>,
            pub ff: FeedForward<E>,
            pub norm1: LayerNorm<E>,
            pub norm2: LayerNorm<E>,
        }
    }
}

impl<E: Float> TransformerBlock<E> {
    pub fn new<I: Init<E> + ?Sized>(
        name: &str,
        dim: usize,
        num_heads: usize,
        ff_dim: usize,
        init: &mut I,
    ) -> Self {
        TransformerBlock {
            attention: MultiheadAttention::new(&join(name, "attention"), dim, num_heads, init),
            ff: FeedForward::new(&join(name, "ff"), dim, ff_dim, init),
            norm1: LayerNorm::new(&join(name, "norm1"), dim, init),
            norm2: LayerNorm::new(&join(name, "norm2"), dim, init),
        }
    }

    // ANCHOR: block_forward
    /// `x = norm1(attention(x) + x)`, then `x = norm2(ff(x) + x)`, as §5 writes it.
    pub fn forward<'g>(&self, g: &'g Graph<E>, x: Var<'g, E>, causal: bool) -> Var<'g, E> {
        let attended = self.attention.forward(g, x, causal);
        self.finish(g, attended, x)
    }

    /// The rest of the block once attention has given `attended` for input `x`:
    /// both residual connections, both layer norms and the feed-forward layer.
    pub fn finish<'g>(&self, g: &'g Graph<E>, attended: Var<'g, E>, x: Var<'g, E>) -> Var<'g, E> {
        let x = self.norm1.forward(g, attended + x);
        let fed_forward = self.ff.forward(g, x);
        self.norm2.forward(g, fed_forward + x)
    }
    // ANCHOR_END: block_forward
}

crate::module! {
    /// The language model of §5: embedding, positional encoding, blocks, output layer.
    pub struct TransformerLM<E> {
        params {
            pub embed: Embedding<E>,
            pub blocks: Vec<TransformerBlock<E>>,
            pub out: Linear<E>,
        }
        pub config: TransformerConfig,
        /// The sinusoidal table, up to `[context, D]` (a constant, not a parameter).
        pub pos_encode: Positions<E>,
    }
}

impl<E: Float> TransformerLM<E> {
    pub fn new<I: Init<E> + ?Sized>(config: TransformerConfig, init: &mut I) -> Self {
        config.validate();
        let TransformerConfig {
            vocab_size,
            embed_dim,
            num_heads,
            ff_dim,
            num_layers,
            context,
            ..
        } = config;
        let embed = Embedding::new("embed", vocab_size, embed_dim, init);
        let blocks = (0..num_layers)
            .map(|i| TransformerBlock::new(&format!("blocks.{i}"), embed_dim, num_heads, ff_dim, init))
            .collect();
        let out = Linear::new("out", embed_dim, vocab_size, init);
        TransformerLM {
            embed,
            blocks,
            out,
            config,
            pos_encode: Positions::new(context, embed_dim),
        }
    }

    // ANCHOR: lm_forward
    /// Logits `[B, T, V]` for token ids laid out `[B, T]` (T ≤ context):
    /// embed, add the positional encoding, run the blocks, project to the vocabulary.
    pub fn forward<'g>(&self, g: &'g Graph<E>, ids: &[usize], batch: usize, time: usize) -> Var<'g, E> {
        let mut x = self.embed_positions(g, ids, batch, time);
        for block in &self.blocks {
            x = block.forward(g, x, self.config.causal);
        }
        self.out.forward(g, x)
    }
    // ANCHOR_END: lm_forward

    // ANCHOR: embed_positions
    /// Eq. 4.2, steps 1 and 2: ẽ_t = e_t + p_t for token ids laid out `[B, T]` (T ≤ context).
    fn embed_positions<'g>(&self, g: &'g Graph<E>, ids: &[usize], batch: usize, time: usize) -> Var<'g, E> {
        assert!(
            time <= self.config.context,
            "TransformerLM: a sequence of {time} tokens is longer than the context of {}",
            self.config.context
        );
        self.embed.forward(g, ids, [batch, time]) + g.constant(self.positions(time))
    }
    // ANCHOR_END: embed_positions

    /// The positional encodings p_0 … p_{time−1}, `[time, D]`.
    pub fn positions(&self, time: usize) -> Tensor<E> {
        self.pos_encode.first(time)
    }

    /// Attention weights `[B, H, T, T]` of every layer for one batch (for plots).
    pub fn attention_maps(&self, ids: &[usize], batch: usize, time: usize) -> Vec<Tensor<E>> {
        let g = Graph::<E>::inference();
        let mut x = self.embed_positions(&g, ids, batch, time);
        let mut maps = Vec::new();
        for block in &self.blocks {
            let (attended, w) = block.attention.forward_with_weights(&g, x, self.config.causal);
            maps.push(w);
            x = block.finish(&g, attended, x);
        }
        maps
    }
}

impl LanguageModel for TransformerLM<f32> {
    type State = ();

    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        self.forward(g, &batch.inputs, batch.batch, batch.time)
    }
}

/// Keys and values of every layer for the tokens seen so far (batch of one), so
/// that each new token costs one position's work instead of the whole context's.
pub struct KvCache {
    /// Per layer: K and V of every position so far, `[len, D]` (heads side by
    /// side, as in the packed projections). They grow as tokens come, so a
    /// cache costs what has been read, not the whole context.
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    len: usize,
}

impl KvCache {
    pub fn new(config: &TransformerConfig) -> Self {
        KvCache {
            k: vec![Vec::new(); config.num_layers],
            v: vec![Vec::new(); config.num_layers],
            len: 0,
        }
    }

    /// Forgets every cached position (the buffers are kept for reuse).
    pub fn clear(&mut self) {
        self.k.iter_mut().chain(&mut self.v).for_each(Vec::clear);
        self.len = 0;
    }

    /// Tokens cached so far.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl TransformerLM<f32> {
    /// Logits of the token after `tokens`, recomputing the whole (last `context`)
    /// window: the reference the cache must agree with.
    pub fn next_logits(&self, tokens: &[usize]) -> Vec<f32> {
        let window = &tokens[tokens.len().saturating_sub(self.config.context)..];
        let g = Graph::inference();
        let logits = self.forward(&g, window, 1, window.len()).value();
        let v = self.config.vocab_size;
        logits.data()[(window.len() - 1) * v..].to_vec()
    }

    // ANCHOR: kv_cache_step
    /// Feeds one token at the next position, reusing the cached keys and values
    /// of all earlier positions; returns the logits of the token after it.
    pub fn step_cached(&self, cache: &mut KvCache, token: usize) -> Vec<f32> {
        self.prefill(cache, &[token])
    }

    /// Feeds `tokens` at the next positions in one pass (the prefill: a whole
    /// prompt as one batch of rows, not token by token), caching their keys and
    /// values; returns the logits of the token after the last.
    pub fn prefill(&self, cache: &mut KvCache, tokens: &[usize]) -> Vec<f32> {
        let TransformerConfig {
            embed_dim: dm,
            num_heads: h,
            context,
            ..
        } = self.config;
        let (pos, n) = (cache.len, tokens.len());
        assert!(n > 0, "prefill: no tokens to feed");
        assert!(
            pos + n <= context,
            "prefill: {n} token(s) after {pos} cached do not fit the context of {context} positions"
        );
        // Without the mask, earlier positions would attend to later ones, whose
        // keys and values did not exist when theirs were cached.
        assert!(
            self.config.causal,
            "prefill: a model without the causal mask cannot generate from a cache"
        );
        let g = Graph::inference();
        let pe = self.pos_encode.span(pos..pos + n).reshape([1, n, dm]);
        let mut x = self.embed.forward(&g, tokens, [1, n]) + g.constant(pe);
        for (l, block) in self.blocks.iter().enumerate() {
            let att = &block.attention;
            let qkv = att.in_proj(&g, x).value();
            let qkv = qkv.data();
            // Append these positions' keys and values.
            for row in qkv.chunks(3 * dm) {
                cache.k[l].extend_from_slice(&row[dm..2 * dm]);
                cache.v[l].extend_from_slice(&row[2 * dm..]);
            }
            // The fused attention's cached path: these rows against 0..pos + n.
            let heads = attention_cached(qkv, dm, &cache.k[l], &cache.v[l], h);
            let attended = att
                .out_proj
                .forward(&g, g.constant(Tensor::from_vec([1, n, dm], heads)));
            x = block.finish(&g, attended, x);
        }
        cache.len += n;
        // Only the last position's logits are wanted.
        self.out.forward(&g, x.slice(1, n - 1, n)).value().into_vec()
    }
    // ANCHOR_END: kv_cache_step

    // ANCHOR: generate
    /// Generates `n` tokens after `prompt` (stopping with an error on an empty
    /// prompt or logits that are not finite). With `use_cache`, the prompt goes
    /// in as one [`TransformerLM::prefill`] and each new token through
    /// [`TransformerLM::step_cached`]; when the cache is full it is rebuilt, in
    /// one prefill, from the last half-context of tokens. Without (and always for
    /// a model without the causal mask, which cannot use a cache), each step
    /// recomputes the last `context` tokens in full.
    pub fn generate(
        &self,
        prompt: &[usize],
        n: usize,
        how: Sampling,
        rng: &mut StdRng,
        use_cache: bool,
    ) -> Result<Vec<usize>, GenerateError> {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        let use_cache = use_cache && self.config.causal;
        let mut tokens = prompt.to_vec();
        let mut cache = KvCache::new(&self.config);
        let mut logits = Vec::new();
        if use_cache {
            let start = tokens.len().saturating_sub(self.config.context);
            logits = self.prefill(&mut cache, &tokens[start..]);
        }
        for i in 0..n {
            if !use_cache {
                logits = self.next_logits(&tokens);
            }
            let next = how
                .choose(&logits, rng)
                .ok_or_else(|| GenerateError::not_finite(i, &logits))?;
            tokens.push(next);
            if use_cache {
                if cache.len() == self.config.context {
                    cache.clear();
                    // At least the newest token is kept (a context of 1 keeps only it).
                    let keep = (self.config.context / 2).max(1);
                    if keep > 1 {
                        self.prefill(&mut cache, &tokens[tokens.len() - keep..tokens.len() - 1]);
                    }
                }
                logits = self.step_cached(&mut cache, next);
            }
        }
        Ok(tokens[prompt.len()..].to_vec())
    }
    // ANCHOR_END: generate
}

// ANCHOR: transformer_checkpoint
impl Checkpointed for TransformerLM {
    const KIND: &'static str = "transformer_lm";
    type Config = TransformerConfig;

    fn metadata(&self) -> Vec<(&'static str, String)> {
        let c = &self.config;
        vec![
            ("vocab_size", c.vocab_size.to_string()),
            ("embed_dim", c.embed_dim.to_string()),
            ("num_heads", c.num_heads.to_string()),
            ("ff_dim", c.ff_dim.to_string()),
            ("num_layers", c.num_layers.to_string()),
            ("context", c.context.to_string()),
            ("causal", c.causal.to_string()),
        ]
    }

    fn config(ckpt: &Checkpoint) -> Result<TransformerConfig, CheckpointError> {
        let config = TransformerConfig {
            vocab_size: ckpt.size("vocab_size")?,
            embed_dim: ckpt.size("embed_dim")?,
            num_heads: ckpt.size("num_heads")?,
            ff_dim: ckpt.size("ff_dim")?,
            num_layers: ckpt.size_from("num_layers", 0)?,
            context: ckpt.context()?,
            causal: ckpt.parse("causal")?,
        };
        if let Err(reason) = config.check() {
            let divides = config.embed_dim.is_multiple_of(config.num_heads);
            return Err(ckpt.bad(if divides { "embed_dim" } else { "num_heads" }, reason));
        }
        // The blocks a file can hold: counted from the model's own parameter
        // list (on the smallest model), so that a corrupt count cannot make the
        // constructor ask for millions of phantom parameters (one block's worth
        // may be missing: the error then names the first missing tensor).
        let tensors_of = |num_layers| {
            let tiny = TransformerConfig {
                vocab_size: 1,
                embed_dim: 2,
                num_heads: 1,
                ff_dim: 1,
                num_layers,
                context: 1,
                causal: true,
            };
            let model = TransformerLM::<f32>::new(tiny, &mut StdRng::seed_from_u64(0));
            crate::autograd::Module::params(&model).len()
        };
        let (outside, per_block) = (tensors_of(0), tensors_of(1) - tensors_of(0));
        let needed = per_block
            .checked_mul(config.num_layers)
            .and_then(|n| n.checked_add(outside));
        if needed.is_none_or(|n| n > ckpt.tensors.len() + per_block) {
            let reason = format!("{} tensors cannot hold that many blocks", ckpt.tensors.len());
            return Err(ckpt.bad("num_layers", reason));
        }
        // The positional table is built from the width alone: it must be the
        // width of a tensor the file really holds.
        ckpt.expect_shape("embed.weight", &[config.vocab_size, config.embed_dim])?;
        Ok(config)
    }

    fn build<I: Init<f32>>(config: TransformerConfig, init: &mut I) -> Self {
        TransformerLM::new(config, init)
    }
}
// ANCHOR_END: transformer_checkpoint
