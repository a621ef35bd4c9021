//! The Transformer of §4.2, exactly as the equations write it: one layer, one
//! head, no residual connection, no layer norm.
//!
//! e_t = E x_t;  ẽ_t = e_t + p_t;  Q = ẼW^Q, K = ẼW^K, V = ẼW^V;
//! A = softmax(QKᵀ/√d_k + M);  C = AV;  C̃ = ReLU(CW₁ + b₁)W₂ + b₂;
//! y_t = softmax(c̃_t W_o + b_o).
//!
//! M is the causal mask, the one term added to the tutorial's formula: 0 where
//! key j ≤ query i and −∞ where j > i, so that position i attends only to
//! positions up to itself, as §3.2 describes in words.

use super::LanguageModel;
use crate::autograd::{Converted, Graph, Init, Param, Var};
use crate::checkpoint::{Checkpoint, CheckpointError, Checkpointed};
use crate::data::Batch;
use crate::nn::Positions;
use crate::tensor::{Float, Tensor};

/// Sizes of the §4.2 model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eq42Config {
    pub vocab_size: usize,
    /// Width of e_t and p_t.
    pub d_model: usize,
    /// Width of queries, keys and values.
    pub d_k: usize,
    /// Hidden width of the feed-forward layer.
    pub d_ff: usize,
    pub context: usize,
}

crate::module! {
    /// The single-head, single-layer Transformer of §4.2.
    pub struct Eq42<E> {
        params {
            /// E `[d_model × V]`: e_t = E x_t is column x_t.
            pub e: Param<E>,
            /// W^Q, W^K, W^V `[d_model × d_k]`.
            pub w_q: Param<E>,
            pub w_k: Param<E>,
            pub w_v: Param<E>,
            /// W₁ `[d_k × d_ff]`, b₁ `[d_ff]`, W₂ `[d_ff × d_model]`, b₂ `[d_model]`.
            pub w_1: Param<E>,
            pub b_1: Param<E>,
            pub w_2: Param<E>,
            pub b_2: Param<E>,
            /// W_o `[d_model × V]`, b_o `[V]`.
            pub w_o: Param<E>,
            pub b_o: Param<E>,
        }
        pub config: Eq42Config,
        /// p_t for t < context, `[context × d_model]` (computed as far as it is read).
        pub p: Positions<E>,
    }
}

/// Every intermediate of Eq. 4.2 for one batch, for tests and traces.
pub struct Eq42Trace<'g, E: Float> {
    pub e: Var<'g, E>,
    pub e_tilde: Var<'g, E>,
    pub q: Var<'g, E>,
    pub k: Var<'g, E>,
    pub v: Var<'g, E>,
    pub a: Var<'g, E>,
    pub c: Var<'g, E>,
    pub c_tilde: Var<'g, E>,
    /// Logits c̃_t W_o + b_o; y_t is their softmax.
    pub logits: Var<'g, E>,
}

impl<E: Float> Eq42<E> {
    /// Weights from U(−1/√fan_in, 1/√fan_in), E from N(0, 1), biases zero.
    pub fn new<I: Init<E> + ?Sized>(config: Eq42Config, init: &mut I) -> Self {
        let Eq42Config {
            vocab_size: nv,
            d_model: dm,
            d_k: dk,
            d_ff: df,
            context,
        } = config;
        let mut w = |name: &str, rows: usize, cols: usize| {
            init.uniform(name, &[rows, cols], 1.0 / (rows as f64).sqrt())
        };
        let (w_q, w_k, w_v) = (w("W_Q", dm, dk), w("W_K", dm, dk), w("W_V", dm, dk));
        let (w_1, w_2, w_o) = (w("W_1", dk, df), w("W_2", df, dm), w("W_o", dm, nv));
        Eq42 {
            e: init.normal("E", &[dm, nv], 1.0),
            w_q,
            w_k,
            w_v,
            w_1,
            b_1: init.zeros("b_1", &[df]),
            w_2,
            b_2: init.zeros("b_2", &[dm]),
            w_o,
            b_o: init.zeros("b_o", &[nv]),
            config,
            p: Positions::new(context, dm),
        }
    }

    /// The same model with its numbers converted to another float type: the
    /// parameters and the positional table p as they are (p is cast, not
    /// recomputed, so both models add exactly the same numbers).
    pub fn cast<F: Float>(&self) -> Eq42<F> {
        Eq42 {
            p: self.p.cast(),
            ..Eq42::new(self.config, &mut Converted::from(self))
        }
    }

    /// The causal mask M `[T × T]`: 0 on and below the diagonal, −∞ above it.
    pub fn mask(time: usize) -> Tensor<E> {
        Tensor::from_fn([time, time], |ix| {
            if ix[1] > ix[0] { E::NEG_INFINITY } else { E::ZERO }
        })
    }

    // ANCHOR: eq_4_2_forward
    /// Eq. 4.2 for `batch` sequences of `time` tokens (`ids` laid out `[B, T]`).
    pub fn trace<'g>(&self, g: &'g Graph<E>, ids: &[usize], batch: usize, time: usize) -> Eq42Trace<'g, E> {
        let dm = self.config.d_model;
        assert!(
            time <= self.config.context,
            "Eq42: {time} tokens exceed the context of {}",
            self.config.context
        );
        // 1. e_t = E x_t: column x_t of E, for every token
        let e = g.param(&self.e).columns(ids).reshape([batch, time, dm]);
        // 2. ẽ_t = e_t + p_t
        let p = self.p.first(time);
        let e_tilde = e + g.constant(p);
        // 3. Q = ẼW^Q, K = ẼW^K, V = ẼW^V
        let q = e_tilde.matmul(g.param(&self.w_q));
        let k = e_tilde.matmul(g.param(&self.w_k));
        let v = e_tilde.matmul(g.param(&self.w_v));
        //    A = softmax(QKᵀ/√d_k + M), C = AV
        let scores = q.matmul_t(k).scale(1.0 / (self.config.d_k as f64).sqrt());
        let a = (scores + g.constant(Self::mask(time))).softmax();
        let c = a.matmul(v);
        // 4. C̃ = ReLU(CW₁ + b₁)W₂ + b₂
        let hidden = (c.matmul(g.param(&self.w_1)) + g.param(&self.b_1)).relu();
        let c_tilde = hidden.matmul(g.param(&self.w_2)) + g.param(&self.b_2);
        // 5. y_t = softmax(c̃_t W_o + b_o): the logits, softmax left to the loss
        let logits = c_tilde.matmul(g.param(&self.w_o)) + g.param(&self.b_o);
        Eq42Trace {
            e,
            e_tilde,
            q,
            k,
            v,
            a,
            c,
            c_tilde,
            logits,
        }
    }
    // ANCHOR_END: eq_4_2_forward
}

impl LanguageModel for Eq42<f32> {
    type State = ();

    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        self.trace(g, &batch.inputs, batch.batch, batch.time).logits
    }
}

impl Checkpointed for Eq42 {
    const KIND: &'static str = "eq42";
    type Config = Eq42Config;

    fn metadata(&self) -> Vec<(&'static str, String)> {
        let c = &self.config;
        vec![
            ("vocab_size", c.vocab_size.to_string()),
            ("d_model", c.d_model.to_string()),
            ("d_k", c.d_k.to_string()),
            ("d_ff", c.d_ff.to_string()),
            ("context", c.context.to_string()),
            ("causal", "true".to_string()),
        ]
    }

    fn config(ckpt: &Checkpoint) -> Result<Eq42Config, CheckpointError> {
        let config = Eq42Config {
            vocab_size: ckpt.size("vocab_size")?,
            d_model: ckpt.size("d_model")?,
            d_k: ckpt.size("d_k")?,
            d_ff: ckpt.size("d_ff")?,
            context: ckpt.context()?,
        };
        if !config.d_model.is_multiple_of(2) {
            let reason = "must be even (sin/cos pairs of the positional encoding)";
            return Err(ckpt.bad("d_model", reason));
        }
        ckpt.always_causal()?;
        // The positional table is built from d_model alone: it must be the
        // width of a tensor the file really holds.
        ckpt.expect_shape("E", &[config.d_model, config.vocab_size])?;
        Ok(config)
    }

    fn build<I: Init<f32>>(config: Eq42Config, init: &mut I) -> Self {
        Eq42::new(config, init)
    }
}
