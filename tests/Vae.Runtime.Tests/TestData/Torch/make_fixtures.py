"""Writes the PyTorch fixtures the runtime tests read (CI has no torch, so the outputs are committed).

Run from this folder with a Python that has torch:  /usr/bin/python3 make_fixtures.py
It is deterministic: the same torch version writes the same bytes.

- state_{f16,bf16,f32,f64}.safetensors: the state dict of a tiny VAE with the library's tensor names
  (encoder.0, encoder.mu, encoder.logvar, decoder.0, decoder.out; nn.Linear initialisation, seed 14),
  cast to half, bfloat16, float32 and double, with {"format": "pt"} metadata as safetensors.torch writes.
  The C# TorchFixtureVae declares the same architecture (Input 6, Latent 2, Encoder 5 Relu, Decoder 4 Tanh).
- specials_{f16,bf16,f64}.safetensors: edge values of each dtype (subnormals, the largest finite values,
  infinities, NaN, -0, ties and overflow when narrowing to float32), plus a scalar and an empty tensor.
- batchnorm_i64.safetensors: a BatchNorm1d state dict, whose num_batches_tracked is I64.
- expected.json: for every tensor of every file, its shape and the float32 bits torch gives for
  tensor.to(torch.float32) (what the C# reader must produce), as 8-digit hex strings.

The files are written by hand in the safetensors layout (8-byte little-endian header length, compact JSON
header with "__metadata__" first, padded with spaces to a multiple of 8, then the tensors' little-endian
bytes sorted by name), which is what the safetensors package writes for a single-dtype dict.
"""
import json
import struct
import sys

import torch

assert sys.byteorder == "little"

DTYPES = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # numpy has no bfloat16; the bits are what matter
    return t.numpy().tobytes()


def save(path, tensors, metadata):
    header = {"__metadata__": metadata}
    parts, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = raw_bytes(t)
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        parts.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(parts))


def float32_bits(t):
    f = t.to(torch.float32).contiguous().reshape(-1)
    return ["%08x" % (v & 0xFFFFFFFF) for v in f.view(torch.int32).tolist()]


expected = {}


def record(path, tensors):
    expected[path] = {name: {"shape": list(t.shape), "float32_bits": float32_bits(t) if t.is_floating_point() else None}
                      for name, t in tensors.items()}


class Vae(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.ModuleDict({"0": torch.nn.Linear(6, 5), "mu": torch.nn.Linear(5, 2), "logvar": torch.nn.Linear(5, 2)})
        self.decoder = torch.nn.ModuleDict({"0": torch.nn.Linear(2, 4), "out": torch.nn.Linear(4, 6)})


torch.manual_seed(14)
state = Vae().state_dict()
for suffix, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16), ("f32", torch.float32), ("f64", torch.float64)]:
    tensors = {k: v.to(dtype) for k, v in state.items()}
    path = "state_%s.safetensors" % suffix
    save(path, tensors, {"format": "pt"})
    record(path, tensors)

inf, nan = float("inf"), float("nan")
specials = {
    "f16": (torch.float16, [0.0, -0.0, 1.0 / 3.0, 0.1, -2.5, 65504.0, -65504.0, 2.0 ** -24, -(2.0 ** -24), 2.0 ** -14,
                            2.0 ** -14 - 2.0 ** -24, 1e-3, 1000.5, inf, -inf, nan]),
    "bf16": (torch.bfloat16, [0.0, -0.0, 1.0 / 3.0, 0.1, -2.5, 3.3895313892515355e38, -3.3895313892515355e38, 1e-40,
                              2.0 ** -126, 2.0 ** -133, 12345.0, inf, -inf, nan]),
    "f64": (torch.float64, [0.0, -0.0, 1.0 / 3.0, 0.1, -2.5, 1e300, -1e300, 1e-50, -1e-50, 1e-40, 1e-45,
                            3.4028234663852886e38, 3.4028235677973366e38, 3.402823567797337e38, 16777217.0, 16777219.0,
                            2.0 ** -149, 2.0 ** -150, 2.0 ** -150 * 1.5, inf, -inf, nan]),
}
for suffix, (dtype, values) in specials.items():
    tensors = {
        "values": torch.tensor(values, dtype=torch.float64).to(dtype),
        "scalar": torch.tensor(-7.25, dtype=dtype),
        "empty": torch.zeros(0, 3, dtype=dtype),
        "matrix": torch.arange(12, dtype=torch.float64).reshape(3, 4).div(7).to(dtype),
    }
    path = "specials_%s.safetensors" % suffix
    save(path, tensors, {"format": "pt"})
    record(path, tensors)

bn = torch.nn.BatchNorm1d(3)
bn.train()
torch.manual_seed(3)
bn(torch.randn(8, 3))
tensors = dict(bn.state_dict())
save("batchnorm_i64.safetensors", tensors, {"format": "pt"})
record("batchnorm_i64.safetensors", tensors)

with open("expected.json", "w") as f:
    json.dump({"torch": torch.__version__, "files": expected}, f, indent=1, sort_keys=True)
    f.write("\n")
