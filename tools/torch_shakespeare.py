"""The README's Tiny Shakespeare run, in PyTorch, for a same-machine comparison
with `cargo run --release --bin ch05 -- --corpus FILE --train-only`: the §5 model
(tools/seed_model.py) with nanoGPT's small CPU recipe (4 blocks, 4 heads, width
128, context 64, batch 12, 2,000 steps, lr 1e-3 with 100 warm-up steps and cosine
decay to 1e-4, AdamW betas (0.9, 0.99), weight decay 0.1 on matrices, clipping
at 1.0), last 10 % of the text held out.

    cd tools && python torch_shakespeare.py ../../shared/data/tinyshakespeare.txt [THREADS] [--out DIR]

Prints the validation loss (mean over 20 random held-out batches) and the
seconds spent in training steps. With `--out DIR` it also writes them where the
book reads run values: the loss to DIR/summary.json, the wall-clock values to
DIR/measured.json (the book's run writes to
book/src/figures/ch05/pytorch-shakespeare).
"""
import json
import math
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F

from seed_model import TransformerLM

args = sys.argv[1:]
out = None
if "--out" in args:
    i = args.index("--out")
    if i + 1 >= len(args):
        sys.exit("--out needs a folder")
    out = args[i + 1]
    del args[i : i + 2]
if not args:
    sys.exit("usage: torch_shakespeare.py TEXT [THREADS] [--out DIR]")
path = args[0]
torch.set_num_threads(int(args[1]) if len(args) > 1 else 2)
torch.manual_seed(0)
text = open(path, encoding="utf-8").read()
alphabet = sorted(set(text))
index = {c: i for i, c in enumerate(alphabet)}
ids = torch.tensor([index[c] for c in text])
split = len(ids) - len(ids) // 10
train, val = ids[:split], ids[split:]
steps, batch, context, warmup, lr, min_lr = 2000, 12, 64, 100, 1e-3, 1e-4

model = TransformerLM(len(alphabet), 128, 4, 512, 4, context)
matrices = [p for p in model.parameters() if p.dim() >= 2]
vectors = [p for p in model.parameters() if p.dim() < 2]
groups = [{"params": matrices, "weight_decay": 0.1}, {"params": vectors, "weight_decay": 0.0}]
opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def windows(data, generator):
    starts = torch.randint(0, len(data) - context, (batch,), generator=generator)
    x = torch.stack([data[s : s + context] for s in starts])
    y = torch.stack([data[s + 1 : s + context + 1] for s in starts])
    return x, y


def rate(step):
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    progress = (step - warmup) / (steps - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


draw = torch.Generator().manual_seed(0)
seconds = 0.0
for step in range(steps):
    start = time.perf_counter()
    for group in opt.param_groups:
        group["lr"] = rate(step)
    x, y = windows(train, draw)
    loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    seconds += time.perf_counter() - start

model.eval()
held_out = torch.Generator().manual_seed(1)
with torch.no_grad():
    losses = [F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item() for x, y in (windows(val, held_out) for _ in range(20))]
print(
    f"torch {torch.__version__}, {torch.get_num_threads()} threads: validation loss {sum(losses) / len(losses):.4f} "
    f"after {steps} steps, {seconds:.1f} s of training, {steps * batch * context / seconds:.0f} tokens/s"
)
if out is not None:
    val_loss = sum(losses) / len(losses)
    command = "$PYTHON tools/torch_shakespeare.py tinyshakespeare.txt " + str(torch.get_num_threads())
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    machine = f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads, torch {torch.__version__}"
    os.makedirs(out, exist_ok=True)

    def write(name, values):
        doc = {"chapter": "ch05", "command": command, "figures": [], "findings": [], "values": values}
        if name == "measured.json":
            doc["machine"] = machine
        with open(os.path.join(out, name), "w") as f:
            f.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")

    write("summary.json", {"command": command, "final val loss": val_loss, "steps": steps})
    write("measured.json", {"machine": machine, "training seconds": seconds, "tokens/s": steps * batch * context / seconds})
    print(f"wrote {out}/summary.json and measured.json")
