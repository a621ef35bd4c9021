//! The recurrent network of §3.1 and §4.1, exactly as the tutorial writes it:
//!
//! h_t = f(U x_t + W h_{t−1} + b),   y_t = softmax(V h_t + c),
//!
//! with x_t the one-hot vector of token t. The hidden state h_t is the whole of
//! the model's memory: everything it knows about the past must fit in H numbers
//! and survive being multiplied by W at every step.

use super::{LanguageModel, State};
use crate::autograd::{Converted, Graph, Init, Param, Var};
use crate::checkpoint::{Checkpoint, CheckpointError, Checkpointed};
use crate::data::Batch;
use crate::data::Reading;
use crate::sample::{GenerateError, Sampling};
use crate::tensor::{Float, Tensor};
use rand::rngs::StdRng;
use std::fmt;
use std::str::FromStr;

/// The nonlinearity f of Eq. 4.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Tanh,
    Relu,
}

impl Activation {
    /// Every activation, in the order of the names `torch.nn.RNN` accepts.
    pub const ALL: [Activation; 2] = [Activation::Tanh, Activation::Relu];

    /// Its name, as `torch.nn.RNN(nonlinearity=…)` spells it: the one spelling
    /// used in figures, tables and checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| "expected `tanh` or `relu`".to_string())
    }
}

// ANCHOR: rnn_params
crate::module! {
    /// A vanilla RNN language model, parameters named as in §4.1.
    pub struct Rnn<E> {
        params {
            /// U `[H×V]`: input to hidden; column t is what token t adds to the state.
            pub u: Param<E>,
            /// W `[H×H]`: hidden to hidden, applied at every step.
            pub w: Param<E>,
            /// b `[H]`: hidden bias.
            pub b: Param<E>,
            /// V `[V×H]`: hidden to output.
            pub v: Param<E>,
            /// c `[V]`: output bias.
            pub c: Param<E>,
        }
        /// f: tanh (the default) or ReLU.
        pub f: Activation,
    }
}
// ANCHOR_END: rnn_params

/// What a forward pass over a batch of sequences produces.
pub struct RnnOutput<'g, E: Float> {
    /// Logits V h_t + c for every step, `[B, T, V]` (y_t = softmax of a row).
    pub logits: Var<'g, E>,
    /// h_1 … h_T, each `[B, H]`.
    pub hidden: Vec<Var<'g, E>>,
}

impl<E: Float> Rnn<E> {
    // ANCHOR: rnn_new
    /// Initialised as `torch.nn.RNN`: every weight and bias from U(−1/√H, 1/√H).
    pub fn new<I: Init<E> + ?Sized>(vocab: usize, hidden: usize, f: Activation, init: &mut I) -> Self {
        let a = 1.0 / (hidden as f64).sqrt();
        Rnn {
            u: init.uniform("U", &[hidden, vocab], a),
            w: init.uniform("W", &[hidden, hidden], a),
            b: init.uniform("b", &[hidden], a),
            v: init.uniform("V", &[vocab, hidden], a),
            c: init.uniform("c", &[vocab], a),
            f,
        }
    }
    // ANCHOR_END: rnn_new

    /// The same network with its numbers converted to another float type (e.g.
    /// to measure a trained `f32` model's gradients in `f64`).
    pub fn cast<F: Float>(&self) -> Rnn<F> {
        Rnn::new(
            self.vocab(),
            self.hidden_size(),
            self.f,
            &mut Converted::from(self),
        )
    }

    pub fn hidden_size(&self) -> usize {
        self.w.value.dims()[0]
    }

    pub fn vocab(&self) -> usize {
        self.u.value.dims()[1]
    }

    // ANCHOR: eq_4_1_step
    /// Eq. 4.1: h_t = f(U x_t + W h_{t−1} + b), for a batch: `x_t` holds one token
    /// id per sequence, `h_prev` is `[B, H]`. U x_t is a column lookup: with x_t
    /// one-hot, the product just picks column x_t of U.
    pub fn step<'g>(&self, g: &'g Graph<E>, x_t: &[usize], h_prev: Var<'g, E>) -> Var<'g, E> {
        let u_x = g.param(&self.u).columns(x_t); // U x_t       [B, H]
        let w_h = h_prev.matmul_t(g.param(&self.w)); // W h_{t−1}   [B, H]
        let pre = u_x + w_h + g.param(&self.b);
        match self.f {
            Activation::Tanh => pre.tanh(),
            Activation::Relu => pre.relu(),
        }
    }
    // ANCHOR_END: eq_4_1_step

    // ANCHOR: eq_4_1_output
    /// Eq. 4.1, output layer: the logits V h_t + c, so that y_t = softmax(V h_t + c).
    pub fn output<'g>(&self, g: &'g Graph<E>, h: Var<'g, E>) -> Var<'g, E> {
        h.matmul_t(g.param(&self.v)) + g.param(&self.c)
    }
    // ANCHOR_END: eq_4_1_output

    /// Runs `time` steps over `batch` sequences (`ids` laid out `[B, T]`), starting
    /// from `h0` (`[B, H]`, zeros if `None`).
    pub fn forward<'g>(
        &self,
        g: &'g Graph<E>,
        ids: &[usize],
        batch: usize,
        time: usize,
        h0: Option<Tensor<E>>,
    ) -> RnnOutput<'g, E> {
        let hidden = unroll(
            g,
            "Rnn::forward",
            (ids, batch, time),
            self.hidden_size(),
            h0,
            |x_t, h| self.step(g, x_t, h),
        );
        let logits = self.output(g, stack(&hidden));
        RnnOutput { logits, hidden }
    }
}

/// Runs a recurrent `step` over `batch` sequences of `time` tokens (`ids` laid
/// out `[B, T]`) from `h0` (`[B, H]`, zeros if `None`); returns h_1 … h_T.
/// The loop every recurrent model of the crate shares (`name` is the caller,
/// for the messages).
pub(crate) fn unroll<'g, E: Float>(
    g: &'g Graph<E>,
    name: &str,
    (ids, batch, time): (&[usize], usize, usize),
    hs: usize,
    h0: Option<Tensor<E>>,
    step: impl Fn(&[usize], Var<'g, E>) -> Var<'g, E>,
) -> Vec<Var<'g, E>> {
    assert_eq!(
        ids.len(),
        batch * time,
        "{name}: {} ids for a [{batch}, {time}] batch",
        ids.len()
    );
    if let Some(h) = &h0 {
        assert_eq!(
            h.dims(),
            [batch, hs],
            "{name}: h0 of shape {} for batch {batch}, hidden {hs}",
            h.shape()
        );
    }
    let mut h = g.constant(h0.unwrap_or_else(|| Tensor::zeros([batch, hs])));
    let mut hidden = Vec::with_capacity(time);
    let mut x_t = vec![0; batch];
    for t in 0..time {
        for (b, x) in x_t.iter_mut().enumerate() {
            *x = ids[b * time + t];
        }
        h = step(&x_t, h);
        hidden.push(h);
    }
    hidden
}

/// h_1 … h_T (each `[B, H]`) stacked to `[B, T, H]`, so that the output layer
/// runs as one product.
pub(crate) fn stack<'g, E: Float>(hidden: &[Var<'g, E>]) -> Var<'g, E> {
    let dims = hidden[0].shape();
    let (batch, hs) = (dims.dims()[0], dims.dims()[1]);
    let rows: Vec<Var<'g, E>> = hidden.iter().map(|h| h.reshape([batch, 1, hs])).collect();
    Var::concat(&rows, 1)
}

impl Rnn<f32> {
    // ANCHOR: step_3_1_loop
    /// §3.1 as one loop: prime h with the prompt, then repeat steps 1–4 for
    /// `n` new tokens. Returns the new tokens only; stops with an error on an
    /// empty prompt or logits that are not finite.
    pub fn generate(
        &self,
        prompt: &[usize],
        n: usize,
        how: Sampling,
        rng: &mut StdRng,
    ) -> Result<Vec<usize>, GenerateError> {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        let mut h = Tensor::zeros([1, self.hidden_size()]);
        // Feed all prompt tokens but the last: h now holds the prompt's memory.
        for &x in &prompt[..prompt.len() - 1] {
            let g = Graph::inference();
            h = self.step(&g, &[x], g.constant(h)).value();
        }
        let mut x_t = prompt[prompt.len() - 1];
        // (Grown as it goes: a huge n costs nothing until tokens are made.)
        let mut out = Vec::with_capacity(n.min(1 << 16));
        for i in 0..n {
            let g = Graph::inference();
            // 1. take the current token x_t and the previous state h_{t−1}
            let h_prev = g.constant(h);
            // 2. h_t = f(U x_t + W h_{t−1} + b)
            let h_t = self.step(&g, &[x_t], h_prev);
            // 3. the distribution of the next token, y_t = softmax(V h_t + c)
            let logits = self.output(&g, h_t).value();
            // 4. sample (or take the most likely) token as x_{t+1}, and repeat
            x_t = how
                .choose(logits.data(), rng)
                .ok_or_else(|| GenerateError::not_finite(i, logits.data()))?;
            out.push(x_t);
            h = h_t.value();
        }
        Ok(out)
    }
    // ANCHOR_END: step_3_1_loop
}

/// The hidden state h_T an RNN hands from one window of a text to the next,
/// `[B, H]` (none before the first window).
#[derive(Clone, Debug, Default)]
pub struct Hidden(pub Option<Tensor>);

impl Hidden {
    /// The carried state, if it fits a batch of `batch.batch` rows of `hidden`
    /// numbers (a batch of another size starts afresh); leaves `None` behind.
    pub fn take_for(&mut self, batch: &Batch, hidden: usize) -> Option<Tensor> {
        self.0.take().filter(|h| h.dims() == [batch.batch, hidden])
    }
}

impl State for Hidden {
    const READING: Reading = Reading::Streams;

    fn rows(&self, lo: usize, hi: usize, rows: usize) -> Self {
        Hidden(self.0.as_ref().map(|h| {
            let width = h.numel() / rows;
            Tensor::from_slice([hi - lo, width], &h.data()[lo * width..hi * width])
        }))
    }

    fn join(parts: Vec<Self>) -> Self {
        let parts: Option<Vec<Tensor>> = parts.into_iter().map(|p| p.0).collect();
        Hidden(parts.map(|parts| {
            let width = parts[0].dims()[1];
            let rows = parts.iter().map(|p| p.dims()[0]).sum();
            Tensor::from_vec(
                [rows, width],
                parts.iter().flat_map(|p| p.data().iter().copied()).collect(),
            )
        }))
    }
}

impl LanguageModel for Rnn<f32> {
    type State = Hidden;

    fn vocab_size(&self) -> usize {
        self.vocab()
    }

    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        self.forward(g, &batch.inputs, batch.batch, batch.time, None)
            .logits
    }

    // ANCHOR: tbptt
    /// Truncated backpropagation through time: the state left by the previous
    /// window enters as a constant, so gradients stop at the window's start.
    fn logits_after<'g>(&self, g: &'g Graph, batch: &Batch, state: &mut Hidden) -> Var<'g> {
        let h0 = state.take_for(batch, self.hidden_size());
        let out = self.forward(g, &batch.inputs, batch.batch, batch.time, h0);
        state.0 = out.hidden.last().map(|h| h.value());
        out.logits
    }
    // ANCHOR_END: tbptt
}

impl Checkpointed for Rnn {
    const KIND: &'static str = "rnn";
    /// Vocabulary size, hidden size and f.
    type Config = (usize, usize, Activation);

    fn metadata(&self) -> Vec<(&'static str, String)> {
        vec![
            ("vocab_size", self.vocab().to_string()),
            ("hidden_size", self.hidden_size().to_string()),
            ("activation", self.f.name().to_string()),
            ("causal", "true".to_string()),
        ]
    }

    fn config(ckpt: &Checkpoint) -> Result<Self::Config, CheckpointError> {
        let (vocab, hidden) = (ckpt.size("vocab_size")?, ckpt.size("hidden_size")?);
        let f = ckpt.parse("activation")?;
        ckpt.always_causal()?;
        Ok((vocab, hidden, f))
    }

    fn build<I: Init<f32>>((vocab, hidden, f): Self::Config, init: &mut I) -> Self {
        Rnn::new(vocab, hidden, f, init)
    }
}
