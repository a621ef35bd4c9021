"""Reference numbers for tests/optim.rs: three steps of PyTorch's SGD, Adam and
AdamW on a fixed problem, in float64. Run by hand (needs torch):

    python tools/optim_reference.py
"""
import torch

torch.set_default_dtype(torch.float64)
w0 = torch.tensor([0.5, -1.0, 2.0, 0.0])
t = torch.tensor([1.0, 1.0, -1.0, 0.5])
c = torch.tensor([1.0, 2.0, 3.0, 4.0])
makers = {
    "sgd": lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1),
    "adam": lambda p: torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
    "adamw": lambda p: torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
}
print("torch", torch.__version__)
for name, make in makers.items():
    p = w0.clone().requires_grad_(True)
    opt = make(p)
    for _ in range(3):
        opt.zero_grad()
        loss = (c * (p - t) ** 2).sum() + 0.1 * (p**3).sum()
        loss.backward()
        opt.step()
    print(name, ", ".join(f"{x:.12f}" for x in p.tolist()))
