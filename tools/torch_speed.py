"""Training throughput of the tutorial's §5 model in PyTorch, for the README's
comparison with shortmem (examples/train_speed.rs measures the same thing).

    python tools/torch_speed.py 1      # one thread
    python tools/torch_speed.py 2      # two threads

The model is §5's TransformerLM: post-LayerNorm blocks, nn.MultiheadAttention
(batch_first=True) with a causal mask, ReLU feed-forward, a sinusoidal positional
encoding; one step is forward, cross-entropy, backward and AdamW on random
tokens. Reports the median of the timed steps after 3 warm-up steps.
"""
import math
import sys
import time

import torch
import torch.nn as nn


class PositionalEncoding(nn.Module):
    def __init__(self, dim, context):
        super().__init__()
        pos = torch.arange(context).unsqueeze(1)
        freq = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = torch.zeros(context, dim)
        pe[:, 0::2] = torch.sin(pos * freq)
        pe[:, 1::2] = torch.cos(pos * freq)
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        return x + self.pe[: x.size(1)]


class TransformerBlock(nn.Module):
    def __init__(self, embed_dim, num_heads, ff_dim):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(embed_dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, embed_dim))
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)

    def forward(self, x, mask):
        attended = self.attention(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0]
        x = self.norm1(attended + x)
        return self.norm2(self.ff(x) + x)


class TransformerLM(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_heads, ff_dim, num_layers, context):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.pos_encode = PositionalEncoding(embed_dim, context)
        self.blocks = nn.ModuleList([TransformerBlock(embed_dim, num_heads, ff_dim) for _ in range(num_layers)])
        self.out = nn.Linear(embed_dim, vocab_size)

    def forward(self, x):
        t = x.size(1)
        mask = nn.Transformer.generate_square_subsequent_mask(t)
        x = self.pos_encode(self.embed(x))
        for block in self.blocks:
            x = block(x, mask)
        return self.out(x)


CONFIGS = [  # name, vocab, dim, heads, ff, layers, context, batch, timed steps
    ("tiny", 64, 64, 4, 256, 2, 64, 16, 40),
    ("small", 96, 128, 4, 512, 4, 128, 16, 15),
    ("medium", 256, 256, 8, 1024, 6, 256, 8, 6),
]

def median_step(model, vocab, batch, context, steps):
    """Median seconds of `steps` training steps on random tokens, after 3 warm-up steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for step in range(steps + 3):
        ids = torch.randint(0, vocab, (batch, context))
        targets = torch.randint(0, vocab, (batch, context))
        start = time.perf_counter()
        logits = model(ids)
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= 3:
            times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def start():
    """Threads from the command line (default 1), a fixed seed, the table's header."""
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads: {threads}")
    print(f"{'config':<8} {'params':>12} {'ms/step':>12} {'tokens/s':>14}")


if __name__ == "__main__":
    start()
    for name, vocab, dim, heads, ff, layers, context, batch, steps in CONFIGS:
        model = TransformerLM(vocab, dim, heads, ff, layers, context)
        median = median_step(model, vocab, batch, context, steps)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:<8} {params:>12} {median * 1e3:>12.2f} {batch * context / median:>14.0f}")
