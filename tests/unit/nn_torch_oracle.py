#!/usr/bin/env python3
"""nn_torch_oracle.py - the PyTorch side of tests/unit/test_nn_torch.c.

usage: nn_torch_oracle.py IN.safetensors OUT.txt

IN holds a model's initial weights under PyTorch's state_dict names (Teller's
Linear weights are (in, out): transposed here), the batches "x.<t>", "y.<t>"
(and "len.<t>" for sequences), and metadata: model (mlp | gru | lstm), lr,
steps and the sizes. This script builds the same model in torch, runs
`steps` Adam steps on those batches and writes the loss before each step,
one per line, to OUT. The file is read by parsing the header with json and
numpy, so nothing but Debian's python3-torch is needed.
"""
import json
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[base + b:base + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def set_linear(lin, t, prefix):
    with torch.no_grad():
        lin.weight.copy_(t[prefix + ".weight"].T)
        lin.bias.copy_(t[prefix + ".bias"])


def set_rnn(rnn, t, prefix):
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            p.copy_(t[prefix + "." + name])


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x):
        for i, lin in enumerate(self.layers):
            x = lin(x)
            if i + 1 < len(self.layers):
                x = torch.relu(x)
        return x


class Seq(nn.Module):
    def __init__(self, kind, f, h, layers, bidir, n_out):
        super().__init__()
        cls = nn.GRU if kind == "gru" else nn.LSTM
        self.rnn = cls(f, h, num_layers=layers, bidirectional=bidir, batch_first=True)
        self.kind, self.bidir = kind, bidir
        self.head = nn.Linear(h * (2 if bidir else 1), n_out)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        h_n = state if self.kind == "gru" else state[0]
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        last = torch.cat([h_n[-2], h_n[-1]], dim=1) if self.bidir else h_n[-1]
        return self.head(last), out


def main():
    tensors, meta = read_safetensors(sys.argv[1])
    kind = meta["model"]
    steps, lr = int(meta["steps"]), float(meta["lr"])
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if kind == "mlp":
        sizes = [int(s) for s in meta["sizes"].split(",")]
        model = MLP(sizes)
        for i, lin in enumerate(model.layers):
            set_linear(lin, tensors, f"mlp.{i}")
    else:
        model = Seq(kind, int(meta["input"]), int(meta["hidden"]), int(meta["layers"]),
                    meta["bidirectional"] == "1", int(meta["n_out"]))
        set_rnn(model.rnn, tensors, "rnn")
        set_linear(model.head, tensors, "head")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for t in range(steps):
        x, y = tensors[f"x.{t}"], tensors[f"y.{t}"]
        opt.zero_grad()
        if kind == "mlp":
            loss = nn.functional.cross_entropy(model(x), y.long())
        elif kind == "gru":
            logits, out = model(x, tensors[f"len.{t}"].long())
            # the padded outputs take part too: zeros at padding, as in Teller
            loss = nn.functional.cross_entropy(logits, y.long()) + 0.1 * (out * out).mean()
        else:
            pred, out = model(x, tensors[f"len.{t}"].long())
            loss = nn.functional.mse_loss(pred, y) + 0.1 * (out * out).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with open(sys.argv[2], "w") as f:
        f.write("".join(f"{v:.9g}\n" for v in losses))


if __name__ == "__main__":
    main()
