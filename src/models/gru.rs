//! The gated recurrent unit (Cho et al. 2014), the classic fix for the §4.1
//! RNN's fading memory that the tutorial does not cover. In the convention of
//! `torch.nn.GRU`, with x_t one-hot (so U x_t is a column of U):
//!
//! r_t = σ(U_r x_t + W_r h_{t−1} + b_r)                  (reset gate)
//! z_t = σ(U_z x_t + W_z h_{t−1} + b_z)                  (update gate)
//! n_t = tanh(U_n x_t + b_n + r_t ⊙ (W_n h_{t−1} + b_hn))  (candidate)
//! h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}
//!
//! and, as for the RNN, y_t = softmax(V h_t + c). Where z_t is near 1, h_t is
//! copied from h_{t−1} almost unchanged, and so is the gradient going back:
//! the gate lets the network keep a value for as long as it chooses. The state
//! is still H numbers, exactly as large as the RNN's.

use super::rnn::{RnnOutput, stack, unroll};
use super::{Hidden, LanguageModel};
use crate::autograd::{Graph, Init, Param, Var};
use crate::data::Batch;
use crate::tensor::{Float, Tensor};

crate::module! {
    /// A GRU language model, one set of weights per gate.
    pub struct Gru<E> {
        params {
            /// U_r, U_z, U_n `[H×V]`: what token x_t adds to each gate.
            pub u_r: Param<E>,
            pub u_z: Param<E>,
            pub u_n: Param<E>,
            /// W_r, W_z, W_n `[H×H]`: what the previous state adds.
            pub w_r: Param<E>,
            pub w_z: Param<E>,
            pub w_n: Param<E>,
            /// b_r, b_z, b_n `[H]`, and b_hn `[H]` inside the reset gate's product.
            pub b_r: Param<E>,
            pub b_z: Param<E>,
            pub b_n: Param<E>,
            pub b_hn: Param<E>,
            /// V `[V×H]` and c `[V]`: the output layer.
            pub v: Param<E>,
            pub c: Param<E>,
        }
    }
}

impl<E: Float> Gru<E> {
    /// Initialised as `torch.nn.GRU`: every weight and bias from U(−1/√H, 1/√H).
    pub fn new<I: Init<E> + ?Sized>(vocab: usize, hidden: usize, init: &mut I) -> Self {
        let a = 1.0 / (hidden as f64).sqrt();
        Gru {
            u_r: init.uniform("U_r", &[hidden, vocab], a),
            u_z: init.uniform("U_z", &[hidden, vocab], a),
            u_n: init.uniform("U_n", &[hidden, vocab], a),
            w_r: init.uniform("W_r", &[hidden, hidden], a),
            w_z: init.uniform("W_z", &[hidden, hidden], a),
            w_n: init.uniform("W_n", &[hidden, hidden], a),
            b_r: init.uniform("b_r", &[hidden], a),
            b_z: init.uniform("b_z", &[hidden], a),
            b_n: init.uniform("b_n", &[hidden], a),
            b_hn: init.uniform("b_hn", &[hidden], a),
            v: init.uniform("V", &[vocab, hidden], a),
            c: init.uniform("c", &[vocab], a),
        }
    }

    pub fn hidden_size(&self) -> usize {
        self.w_r.value.dims()[0]
    }

    pub fn vocab(&self) -> usize {
        self.u_r.value.dims()[1]
    }

    // ANCHOR: gru_step
    /// One step for a batch: `x_t` holds one token id per sequence, `h_prev` is `[B, H]`.
    pub fn step<'g>(&self, g: &'g Graph<E>, x_t: &[usize], h_prev: Var<'g, E>) -> Var<'g, E> {
        let gate = |u: &Param<E>, w: &Param<E>| g.param(u).columns(x_t) + h_prev.matmul_t(g.param(w));
        let r = (gate(&self.u_r, &self.w_r) + g.param(&self.b_r)).sigmoid();
        let z = (gate(&self.u_z, &self.w_z) + g.param(&self.b_z)).sigmoid();
        let w_h = h_prev.matmul_t(g.param(&self.w_n)) + g.param(&self.b_hn);
        let n = (g.param(&self.u_n).columns(x_t) + g.param(&self.b_n) + r * w_h).tanh();
        // (1 − z) ⊙ n + z ⊙ h_{t−1}, written as n + z ⊙ (h_{t−1} − n).
        n + z * (h_prev - n)
    }
    // ANCHOR_END: gru_step

    /// The logits V h_t + c.
    pub fn output<'g>(&self, g: &'g Graph<E>, h: Var<'g, E>) -> Var<'g, E> {
        h.matmul_t(g.param(&self.v)) + g.param(&self.c)
    }

    /// Runs `time` steps over `batch` sequences (`ids` laid out `[B, T]`) from
    /// `h0` (`[B, H]`, zeros if `None`): the logits `[B, T, V]` and h_1 … h_T.
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
            "Gru::forward",
            (ids, batch, time),
            self.hidden_size(),
            h0,
            |x_t, h| self.step(g, x_t, h),
        );
        let logits = self.output(g, stack(&hidden));
        RnnOutput { logits, hidden }
    }
}

impl LanguageModel for Gru<f32> {
    type State = Hidden;

    fn vocab_size(&self) -> usize {
        self.vocab()
    }

    fn logits<'g>(&self, g: &'g Graph, batch: &Batch) -> Var<'g> {
        self.forward(g, &batch.inputs, batch.batch, batch.time, None)
            .logits
    }

    /// Truncated backpropagation through time, as for the RNN.
    fn logits_after<'g>(&self, g: &'g Graph, batch: &Batch, state: &mut Hidden) -> Var<'g> {
        let h0 = state.take_for(batch, self.hidden_size());
        let out = self.forward(g, &batch.inputs, batch.batch, batch.time, h0);
        state.0 = out.hidden.last().map(|h| h.value());
        out.logits
    }
}
