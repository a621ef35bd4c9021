"""Continue training a shortmem checkpoint in PyTorch, on one process or many.

    python tools/continue_in_pytorch.py CHECKPOINT --corpus FILE --steps N [--out FILE]
    torchrun --nproc_per_node=2 tools/continue_in_pytorch.py CHECKPOINT --corpus FILE --steps N [--out FILE]

The checkpoint (written by `ch05 --save`) is loaded into the tutorial's §5
`TransformerLM` (tools/seed_model.py) and trained further with shortmem's
recipe: AdamW with betas (0.9, 0.99) and weight decay 0.1 on the matrices, a
warm-up over the first 5 % of steps then a cosine decay to a tenth of the peak
rate, the gradient clipped to norm 1.0, random windows of the training text
(the first 90 %, as shortmem splits it).

Under torchrun, each process is one rank of DistributedDataParallel (gloo on
the CPU, NCCL when every rank has a GPU). Every rank draws the same global
batch from the same seeded generator and trains on its own slice of rows;
DDP averages the gradients, so N processes compute the step that one process
computes on the whole batch.

Adam's moments are not in the checkpoint, so the optimizer starts afresh; the
warm-up keeps its first steps small, and the peak rate defaults to the rate
at which ch05's schedule ends (its --min-lr, 1e-4).

Writes OUT (safetensors, the names, dtypes and metadata shortmem's
`TransformerLM::load` reads; load it with `ch05 --load OUT`) and OUT.json: the
losses, the validation loss before and after, the logits after a prompt (for
comparing with shortmem's), the world size and the speed.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_model import TransformerLM  # noqa: E402  (the tutorial's §5 code)

SIZES = ("vocab_size", "embed_dim", "num_heads", "ff_dim", "num_layers", "context")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint", help="a shortmem TransformerLM checkpoint (ch05 --save)")
    p.add_argument("--corpus", required=True, help="UTF-8 text to train on")
    p.add_argument("--steps", type=int, required=True, help="training steps to run")
    p.add_argument("--out", help="where to write the trained model (default: CHECKPOINT.pytorch.safetensors)")
    p.add_argument("--batch", type=int, default=12, help="global batch: windows per step, over all processes (ch05's: 12)")
    p.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default: the rate at which ch05's schedule ends)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-windows", type=int, default=32, help="validation windows (consecutive, from the start of the validation text)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--prompt-chars", type=int, default=32, help="length of the prompt whose logits OUT.json keeps")
    args = p.parse_args()
    if args.steps < 1:
        p.error(f"--steps {args.steps}: at least 1")
    if args.out is None:
        stem = args.checkpoint.removesuffix(".safetensors")
        args.out = stem + ".pytorch.safetensors"
    return args


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def lr_at(step, steps, peak):
    """shortmem's Schedule::WarmupCosine with warm-up steps/20 and floor peak/10."""
    warmup, low = steps // 20, peak / 10
    if step < warmup:
        return peak * (step + 1) / (warmup + 1)
    ratio = (step - warmup) / max(steps - warmup, 1)
    return low + 0.5 * (1 + math.cos(math.pi * ratio)) * (peak - low)


def load_model(path):
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # not a file, not safetensors
        fail(f"{path}: cannot read it as safetensors ({e})")
    if meta.get("model") != "transformer_lm":
        fail(f"{path}: a {meta.get('model', 'unknown')!r} checkpoint; this script continues a transformer_lm (ch05 --save)")
    missing = [k for k in SIZES + ("alphabet", "causal") if k not in meta]
    if missing:
        fail(f"{path}: the metadata lacks {', '.join(missing)}")
    sizes = [int(meta[k]) for k in SIZES]
    model = TransformerLM(*sizes, causal=meta["causal"] == "true")
    model.load_state_dict(load_file(path), strict=True)
    return model, meta, sizes


def encode(text, alphabet, path):
    index = {c: i for i, c in enumerate(alphabet)}
    unknown = sorted(set(text) - index.keys())
    if unknown:
        shown = "".join(unknown[:20])
        fail(f"{path}: {len(unknown)} characters the checkpoint's alphabet lacks: {shown!r}")
    return torch.tensor([index[c] for c in text], dtype=torch.long)


def val_loss(model, val, context, windows, device):
    """Mean cross-entropy over consecutive windows of context + 1 characters."""
    n = min(windows, (len(val) - 1) // context)
    if n < 1:
        return float("nan")
    x = torch.stack([val[i * context : i * context + context] for i in range(n)]).to(device)
    y = torch.stack([val[i * context + 1 : i * context + context + 1] for i in range(n)]).to(device)
    with torch.no_grad():
        logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()


def main():
    args = parse_args()
    distributed = "RANK" in os.environ
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
    if args.batch % world:
        fail(f"--batch {args.batch} does not split evenly over {world} processes")

    model, meta, sizes = load_model(args.checkpoint)
    model.to(device)
    context = sizes[-1]
    try:
        with open(args.corpus, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        fail(f"--corpus {args.corpus}: {e}")
    ids = encode(text, meta["alphabet"], args.corpus)
    split = len(ids) - len(ids) // 10
    train, val = ids[:split], ids[split:]
    if len(train) <= context + 1 or len(val) <= context + 1:
        fail(f"--corpus {args.corpus}: {len(ids)} characters are too few for windows of {context} + 1")

    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
        eps=1e-8,
    )
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model

    before = val_loss(model, val, context, args.eval_windows, device)
    gen = torch.Generator().manual_seed(args.seed)  # the same stream on every rank
    rows = slice(rank * args.batch // world, (rank + 1) * args.batch // world)
    losses = []
    started = time.perf_counter()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr)
        starts = torch.randint(0, len(train) - context - 1, (args.batch,), generator=gen)[rows]
        x = torch.stack([train[s : s + context] for s in starts]).to(device)
        y = torch.stack([train[s + 1 : s + context + 1] for s in starts]).to(device)
        logits = net(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the ranks here
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        mean = loss.detach().clone()
        if distributed:
            dist.all_reduce(mean)
            mean /= world
        losses.append(mean.item())
        if rank == 0 and (step % args.log_every == 0 or step + 1 == args.steps):
            print(f"step {step:>5}  loss {losses[-1]:.4f}  lr {lr_at(step, args.steps, args.lr):.2e}", flush=True)
    seconds = time.perf_counter() - started
    after = val_loss(model, val, context, args.eval_windows, device)

    if rank == 0:
        tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, args.out, metadata=meta)
        prompt = text[split : split + min(args.prompt_chars, context)]
        with torch.no_grad():
            last = model(val[: len(prompt)][None].to(device))[0, -1].cpu()
        report = {
            "checkpoint": args.checkpoint,
            "world_size": world,
            "backend": dist.get_backend() if distributed else None,
            "steps": args.steps,
            "batch": args.batch,
            "peak_lr": args.lr,
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "losses": losses,
            "val_loss_before": before,
            "val_loss_after": after,
            "eval_windows": args.eval_windows,
            "seconds": seconds,
            "tokens_per_second": args.steps * args.batch * context / seconds,
            "prompt": prompt,
            "logits": last.tolist(),
            "torch": torch.__version__,
        }
        with open(args.out + ".json", "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, ensure_ascii=False)
        print(f"validation loss {before:.4f} before, {after:.4f} after ({args.eval_windows} windows)")
        print(f"{world} process(es), {seconds:.1f} s, {report['tokens_per_second']:.0f} tokens/s")
        print(f"wrote {args.out} and {args.out}.json")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
