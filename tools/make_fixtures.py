"""Reference numbers from PyTorch for tests/parity.rs. Run by hand (needs torch,
numpy and safetensors), never in CI; the files it writes are committed:

    python tools/make_fixtures.py

For each of four models, built in float32 on the CPU with a fixed seed, it writes
two safetensors files under tests/fixtures/:

    NAME.safetensors           the weights under their state_dict names, with the
                               model's sizes and alphabet as metadata: a checkpoint
                               saved by PyTorch that shortmem loads
    NAME_expected.safetensors  the inputs, the outputs (`logits`), the `loss`, the
                               gradient of every parameter (`grad.<name>`), and
                               `adamw_losses`: the loss after each of 5 AdamW steps

| NAME     | model                                              | loss                       |
|----------|----------------------------------------------------|----------------------------|
| eq42     | §4.2, one head, one layer, written as eq42.rs      | cross-entropy              |
| block    | the tutorial's TransformerBlock, causal mask       | sum(block(x, mask) * r)    |

For the block, x ~ N(0, 1) and r ~ 0.1·N(0, 1) are fixed random tensors of shape
(batch, context, dim): a loss that reaches every output with its own weight,
scaled so that it stays of order 1 to 10 over the 5 AdamW steps.
| lm       | the tutorial's TransformerLM, 2 layers, causal     | cross-entropy              |
| rnn      | §4.1 with tanh, h_0 = 0                            | cross-entropy              |

`python tools/make_fixtures.py --layout` writes only `mha_layout.safetensors`
and `mha_layout_expected.safetensors`: the weights of PyTorch's own
`nn.MultiheadAttention(16, 2)` (its default `batch_first=False`, as §5 builds
it); then an input x of shape (batch 3, time 12, 16) as §5 feeds it, and the
module's output on x twice: `out_as_printed` (the module reads axis 0 as time)
and `out_batch_first` (the same weights with `batch_first=True`). No mask, as
in §5.

Token ids and targets are stored as float32 (exact for small integers), so that
every tensor in the fixtures is F32. AdamW: lr 1e-2, betas (0.9, 0.99), eps 1e-8,
weight decay 0.1 on every parameter (shortmem's `DecayFilter::All`).
"""
import math
import sys
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_model import PositionalEncoding, TransformerBlock, TransformerLM, causal_mask  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
# 11 characters in id order: a newline and non-ASCII letters on purpose.
ALPHABET = "\n !.abcdeéλ"
VOCAB, DIM, FF, CONTEXT, BATCH = len(ALPHABET), 16, 32, 12, 3
ADAMW = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)


class Eq42(nn.Module):
    """§4.2 exactly as src/models/eq42.rs computes it: row vectors, E stored
    [d_model, V] so that e_t = E x_t is column x_t, an explicit causal mask M."""

    def __init__(self, vocab_size, d_model, d_k, d_ff, context):
        super().__init__()

        def weight(rows, cols):
            a = 1 / math.sqrt(rows)
            return nn.Parameter(torch.empty(rows, cols).uniform_(-a, a))

        self.E = nn.Parameter(torch.randn(d_model, vocab_size))
        self.W_Q, self.W_K, self.W_V = weight(d_model, d_k), weight(d_model, d_k), weight(d_model, d_k)
        self.W_1, self.b_1 = weight(d_k, d_ff), nn.Parameter(0.1 * torch.randn(d_ff))
        self.W_2, self.b_2 = weight(d_ff, d_model), nn.Parameter(0.1 * torch.randn(d_model))
        self.W_o, self.b_o = weight(d_model, vocab_size), nn.Parameter(0.1 * torch.randn(vocab_size))
        self.d_k = d_k
        self.pos = PositionalEncoding(d_model, context)

    def forward(self, ids):
        e = self.E.t()[ids]  # e_t = E x_t
        e_tilde = self.pos(e)  # ẽ_t = e_t + p_t
        q, k, v = e_tilde @ self.W_Q, e_tilde @ self.W_K, e_tilde @ self.W_V
        scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(self.d_k)) + causal_mask(ids.shape[1])
        c = scores.softmax(-1) @ v  # C = AV
        c_tilde = torch.relu(c @ self.W_1 + self.b_1) @ self.W_2 + self.b_2
        return c_tilde @ self.W_o + self.b_o  # logits; y_t is their softmax


class Rnn(nn.Module):
    """§4.1 as src/models/rnn.rs computes it: h_t = tanh(U x_t + W h_{t-1} + b),
    logits V h_t + c, h_0 = 0."""

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        a = 1 / math.sqrt(hidden_size)

        def param(*shape):
            return nn.Parameter(torch.empty(*shape).uniform_(-a, a))

        self.U, self.W, self.b = param(hidden_size, vocab_size), param(hidden_size, hidden_size), param(hidden_size)
        self.V, self.c = param(vocab_size, hidden_size), param(vocab_size)

    def forward(self, ids):
        h = torch.zeros(ids.shape[0], self.W.shape[0])
        hs = []
        for t in range(ids.shape[1]):
            h = torch.tanh(self.U.t()[ids[:, t]] + h @ self.W.t() + self.b)
            hs.append(h)
        return torch.stack(hs, 1) @ self.V.t() + self.c


def perturb(model):
    """Moves every parameter off PyTorch's initial values (zero biases, unit
    LayerNorm gains), so that each one matters in the comparison."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))


def record(name, model, forward, inputs, metadata, extra_leaves=()):
    """Writes NAME.safetensors and NAME_expected.safetensors; `forward()` returns
    (outputs, loss)."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / f"{name}.safetensors", metadata=metadata)

    outputs, loss = forward()
    loss.backward()
    expected = {k: v.detach().float().contiguous() for k, v in inputs.items()}
    expected["logits"] = outputs.detach().contiguous()
    expected["loss"] = loss.detach().reshape(1)
    for n, p in model.named_parameters():
        expected[f"grad.{n}"] = p.grad.detach().clone()
    for n, leaf in extra_leaves:
        expected[f"grad.{n}"] = leaf.grad.detach().clone()

    opt = torch.optim.AdamW(model.parameters(), **ADAMW)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        forward()[1].backward()
        opt.step()
        with torch.no_grad():
            losses.append(forward()[1].item())
    expected["adamw_losses"] = torch.tensor(losses)
    save_file(expected, OUT / f"{name}_expected.safetensors")
    print(f"{name}: loss {loss.item():.6f}, after 5 AdamW steps {losses[-1]:.6f}")


def cross_entropy(model, ids, targets):
    logits = model(ids)
    return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    ids = torch.randint(0, VOCAB, (BATCH, CONTEXT))
    targets = torch.randint(0, VOCAB, (BATCH, CONTEXT))
    tokens = {"ids": ids, "targets": targets}
    common = {"vocab_size": str(VOCAB), "context": str(CONTEXT), "causal": "true", "alphabet": ALPHABET}

    # (a) §4.2
    eq42 = Eq42(VOCAB, DIM, 8, FF, CONTEXT)
    meta = {"model": "eq42", "d_model": str(DIM), "d_k": "8", "d_ff": str(FF), **common}
    record("eq42", eq42, lambda: cross_entropy(eq42, ids, targets), tokens, meta)

    # (b) one TransformerBlock of §5, 2 heads, causal mask; loss = sum(out * r)
    block = TransformerBlock(DIM, 2, FF)
    perturb(block)
    x = torch.randn(BATCH, CONTEXT, DIM, requires_grad=True)
    r = 0.1 * torch.randn(BATCH, CONTEXT, DIM)
    mask = causal_mask(CONTEXT)

    def block_loss():
        out = block(x, mask)
        return out, (out * r).sum()

    meta = {"model": "transformer_block", "embed_dim": str(DIM), "num_heads": "2", "ff_dim": str(FF),
            "causal": "true", "loss": "sum(block(x, causal_mask) * r)"}
    record("block", block, block_loss, {"x": x, "r": r}, meta, extra_leaves=[("x", x)])

    # (c) the §5 TransformerLM, 2 layers, 4 heads, causal
    lm = TransformerLM(VOCAB, DIM, 4, FF, 2, CONTEXT)
    perturb(lm)
    meta = {"model": "transformer_lm", "embed_dim": str(DIM), "num_heads": "4", "ff_dim": str(FF),
            "num_layers": "2", **common}
    record("lm", lm, lambda: cross_entropy(lm, ids, targets), tokens, meta)

    # (d) §4.1, tanh
    rnn = Rnn(VOCAB, DIM)
    meta = {"model": "rnn", "hidden_size": str(DIM), "activation": "tanh", **common}
    record("rnn", rnn, lambda: cross_entropy(rnn, ids, targets), tokens, meta)

    total = sum(f.stat().st_size for f in OUT.glob("*.safetensors"))
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")


def layout():
    """The batch_first defect of §5, shown by PyTorch itself."""
    torch.manual_seed(1)
    mha = nn.MultiheadAttention(DIM, 2)  # batch_first=False: (time, batch, features)
    perturb(mha)
    x = torch.randn(BATCH, CONTEXT, DIM)  # §5's layout: (batch, time, features)
    with torch.no_grad():
        as_printed = mha(x, x, x, need_weights=False)[0]
        mha.batch_first = True
        batch_first = mha(x, x, x, need_weights=False)[0]
    state = {k: v.detach().contiguous() for k, v in mha.state_dict().items()}
    meta = {"model": "nn.MultiheadAttention", "embed_dim": str(DIM), "num_heads": "2"}
    save_file(state, OUT / "mha_layout.safetensors", metadata=meta)
    expected = {"x": x, "out_as_printed": as_printed.contiguous(), "out_batch_first": batch_first.contiguous()}
    save_file(expected, OUT / "mha_layout_expected.safetensors",
              metadata={"x": "(batch, time, features), as section 5 feeds it"})
    print(f"mha_layout: largest |as printed - batch first| = {(as_printed - batch_first).abs().max().item():.3f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--layout"]:
        layout()
    else:
        main()
