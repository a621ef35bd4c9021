"""Training throughput of the §4.1 RNN in PyTorch, two ways, for the comparison
with shortmem (`cargo run --release --example train_speed -- THREADS rnn`
measures the same thing).

    python tools/torch_rnn_speed.py 1      # one thread
    python tools/torch_rnn_speed.py 2      # two threads

The model is Eq. 4.1: h_t = tanh(U x_t + W h_{t-1} + b), logits V h_t + c,
with V 64 tokens, H 128, sequences of T 64, batches of B 16. "loop" writes the
recurrence as a Python loop over the time steps (what a reader of §3.1 would
write); "nn.RNN" is PyTorch's fused recurrent layer (its C++ loop). One step is
forward, cross-entropy, backward and AdamW on random tokens. Reports the median
of the timed steps after 3 warm-up steps.
"""
import torch
import torch.nn as nn

from torch_speed import median_step, start  # the same timed training step

VOCAB, HIDDEN, TIME, BATCH, STEPS = 64, 128, 64, 16, 40


class LoopRnn(nn.Module):
    """Eq. 4.1 step by step: U x_t is a column lookup (an embedding of U's columns)."""

    def __init__(self):
        super().__init__()
        self.u = nn.Embedding(VOCAB, HIDDEN)  # row x of the table = column x of U
        self.w = nn.Linear(HIDDEN, HIDDEN)  # W h + b
        self.out = nn.Linear(HIDDEN, VOCAB)  # V h + c

    def forward(self, ids):
        ux = self.u(ids)  # [B, T, H]
        h = torch.zeros(ids.size(0), HIDDEN)
        hs = []
        for t in range(ids.size(1)):
            h = torch.tanh(ux[:, t] + self.w(h))
            hs.append(h)
        return self.out(torch.stack(hs, 1))


class FusedRnn(nn.Module):
    """The same model with nn.RNN (tanh, batch_first) on one-hot inputs, so that
    its input weights are U itself (it has two biases, b_ih and b_hh, where
    Eq. 4.1 has one: H more parameters)."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(VOCAB, HIDDEN, nonlinearity="tanh", batch_first=True, bias=True)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, ids):
        hs, _ = self.rnn(nn.functional.one_hot(ids, VOCAB).float())
        return self.out(hs)


if __name__ == "__main__":
    start()
    for name, model in [("loop", LoopRnn()), ("nn.RNN", FusedRnn())]:
        median = median_step(model, VOCAB, BATCH, TIME, STEPS)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:<8} {params:>12} {median * 1e3:>12.2f} {BATCH * TIME / median:>14.0f}")
