"""Load a shortmem checkpoint into the tutorial's PyTorch TransformerLM and print
the logits of the character that follows a prompt:

    python tools/load_in_pytorch.py CHECKPOINT [PROMPT]

The file is plain safetensors: the weights under their state_dict names, and the
sizes and the alphabet in its metadata. Needs torch and safetensors.
"""
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from seed_model import TransformerLM  # the tutorial's §5 code, tools/seed_model.py

path = sys.argv[1]
prompt = sys.argv[2] if len(sys.argv) > 2 else "Tom went to the"

# 1. The sizes and the alphabet, from the file's metadata (all strings).
with safe_open(path, framework="pt") as f:
    meta = f.metadata()
sizes = [int(meta[key]) for key in ("vocab_size", "embed_dim", "num_heads", "ff_dim", "num_layers", "context")]
model = TransformerLM(*sizes, causal=meta["causal"] == "true")

# 2. The weights: strict=True refuses any missing or unexpected name.
model.load_state_dict(load_file(path), strict=True)
model.eval()

# 3. Encode the prompt with the saved alphabet (character i has id i) and run it.
alphabet, context = meta["alphabet"], sizes[-1]
ids = torch.tensor([[alphabet.index(c) for c in prompt[-context:]]])
with torch.no_grad():
    logits = model(ids)[0, -1]
print(f"logits after {prompt!r}:")
print(" ".join(f"{x:.6f}" for x in logits.tolist()))
print("next:", repr(alphabet[logits.argmax()]))
