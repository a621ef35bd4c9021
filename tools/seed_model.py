"""The PyTorch code of the tutorial's §5, with the three things it needs to run
as a language model (shortmem's `TransformerLM` is the same model):

1. `batch_first=True`: the tutorial feeds `(batch, seq, dim)` to
   `nn.MultiheadAttention`, whose default layout is `(seq, batch, dim)`.
2. `PositionalEncoding`, which the tutorial leaves out: the sinusoidal table of
   the original Transformer paper, added without scaling. It is a
   non-persistent buffer, so it is not part of the `state_dict` and
   `load_state_dict(strict=True)` accepts a shortmem checkpoint.
3. A causal mask, so that position t attends only to positions 0..t.

The module and attribute names are the tutorial's, so the `state_dict` keys are
shortmem's parameter names; the code itself is written anew.
"""
import math

import torch
import torch.nn as nn


class PositionalEncoding(nn.Module):
    def __init__(self, embed_dim, max_len):
        super().__init__()
        # p(pos, 2i) = sin(pos / 10000^(2i/d)), p(pos, 2i+1) = cos(same), computed
        # in float64 and rounded once to float32, exactly as shortmem does.
        pos = torch.arange(max_len, dtype=torch.float64)[:, None]
        two_i = torch.arange(0, embed_dim, 2, dtype=torch.float64)
        angle = pos / 10000 ** (two_i / embed_dim)
        pe = torch.zeros(max_len, embed_dim, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(angle)
        pe[:, 1::2] = torch.cos(angle)
        self.register_buffer("pe", pe.float(), persistent=False)

    def forward(self, x):  # x: (batch, seq, dim)
        return x + self.pe[: x.shape[1]]


def causal_mask(seq_len):
    """0 on and below the diagonal, -inf above it: query t sees keys 0..t."""
    return torch.triu(torch.full((seq_len, seq_len), -math.inf), diagonal=1)


class TransformerBlock(nn.Module):
    """Post-norm block: attention and feed-forward, each with a residual and a LayerNorm."""

    def __init__(self, embed_dim, num_heads, ff_dim):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(embed_dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, embed_dim))
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)

    def forward(self, x, mask=None):
        mixed, _ = self.attention(x, x, x, attn_mask=mask, need_weights=False)
        x = self.norm1(x + mixed)
        return self.norm2(x + self.ff(x))


class TransformerLM(nn.Module):
    """Embedding, positions, a stack of blocks, and a projection to the vocabulary."""

    def __init__(self, vocab_size, embed_dim, num_heads, ff_dim, num_layers, context, causal=True):
        super().__init__()
        self.causal = causal
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.pos_encode = PositionalEncoding(embed_dim, context)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, ff_dim) for _ in range(num_layers))
        self.out = nn.Linear(embed_dim, vocab_size)

    def forward(self, ids):  # ids: (batch, seq) token ids
        mask = causal_mask(ids.shape[1]) if self.causal else None
        h = self.pos_encode(self.embed(ids))
        for block in self.blocks:
            h = block(h, mask)
        return self.out(h)
