#!/usr/bin/env python3
"""Data-parallel scaling model for Vae's MPI training (README, "Distributed training").

Inputs (arguments, with the README's values as defaults):
  params      parameters of the model (default model 784-400-20: 652,824)
  rate        examples/s one node trains (measured: 1 rank x 2 threads on the 2-core machine)
The all-reduce is a ring: each rank sends and receives 2 (N-1)/N of the 4 x params bytes, plus 2 (N-1) message
latencies; training all-reduces after the backward pass, so nothing hides it:
  t_step(N) = (B/N) / rate + t_allreduce(N),   efficiency = ((B/N) / rate) / t_step(N).
"""
import sys

params = int(sys.argv[1]) if len(sys.argv) > 1 else 652_824
rate = float(sys.argv[2]) if len(sys.argv) > 2 else 40_000.0
links = [("10 Gb/s (TCP, 25 us per message)", 10e9 / 8, 25e-6), ("100 Gb/s (RDMA, 2 us per message)", 100e9 / 8, 2e-6)]
nodes = [2, 8, 32, 128]
S = 4 * params

def allreduce(n, bw, lat):
    return 2 * (n - 1) / n * S / bw + 2 * (n - 1) * lat

print(f"bytes all-reduced per step: 4 x {params:,} = {S:,}; compute: {rate:,.0f} examples/s per node, "
      f"{1e3 * 128 / rate:.2f} ms per 128-example step")
for name, bw, lat in links:
    print(f"\n{name}")
    print("| nodes | all-reduce ms | efficiency, 128 per node | efficiency, global 1,024 | global batch to break even | global batch for 80% |")
    print("|---|---|---|---|---|---|")
    for n in nodes:
        t = allreduce(n, bw, lat)
        def eff(B):
            c = B / n / rate
            return c / (c + t)
        even = rate * t * n / (n - 1)          # B/rate > B/(n rate) + t
        b80 = 4 * n * rate * t                 # c / (c + t) = 0.8
        print(f"| {n} | {1e3 * t:.2f} | {100 * eff(128 * n):.0f}% | {100 * eff(1024):.0f}% | {even:,.0f} | {b80:,.0f} |")
