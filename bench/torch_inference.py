#!/usr/bin/env python3
"""The peer's forward pass for the inference comparison: the same 784-400-20 encoder and 20-400-784 decoder as
../shared/peers/torch_vae.py, timed on the 60,000 training images in batches of 4096, median of five runs."""
import argparse, gzip, struct, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist/")
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(1)
with gzip.open(a.data + "train-images-idx3-ubyte.gz") as f:
    _, n, rows, cols = struct.unpack(">IIII", f.read(16))
    x = torch.from_numpy(np.frombuffer(f.read(), np.uint8).reshape(n, rows * cols).astype(np.float32) / 255.0)
fc1, fc21, fc22, fc3, fc4 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20), nn.Linear(20, 400), nn.Linear(400, 784)
enc, dec = [], []
with torch.no_grad():
    for _ in range(5):
        start = time.perf_counter(); mus = []
        for xb in x.split(4096):
            h = F.relu(fc1(xb)); mus.append(fc21(h)); fc22(h)
        enc.append(n / (time.perf_counter() - start))
        mu = torch.cat(mus); start = time.perf_counter()
        for zb in mu.split(4096):
            torch.sigmoid(fc4(F.relu(fc3(zb))))
        dec.append(n / (time.perf_counter() - start))
print(f"encode_images_per_second {sorted(enc)[2]:.0f} decode_images_per_second {sorted(dec)[2]:.0f}")
