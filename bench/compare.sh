#!/usr/bin/env bash
# Our sample's one-epoch training time against the PyTorch peer on this machine, the two alternating, and the
# encode/decode throughput of both, and the OpenBLAS floor: the same step's matrix products alone through the system's
# BLAS (../shared/bench/blas_step.c, built here with gcc -O2 against libopenblas-pthread-dev), so "ours / floor" says how
# far the whole epoch is from the GEMM time of a tuned BLAS. Prints each run, the medians and the ratios. Installs
# nothing: it says what is missing. An AVX2-only machine is imitated with DOTNET_EnableAVX512=0 (.NET 10's switch).
#   bench/compare.sh [runs (default 5)]      environment: PEER=path/to/torch_vae.py DATA=dir THREADS=2 BLAS_STEP=path/to/blas_step.c
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
threads=${THREADS:-2}
data=${DATA:-/usr/share/datasets/fashion-mnist/}
peer=${PEER:-../shared/peers/torch_vae.py}
blas_src=${BLAS_STEP:-../shared/bench/blas_step.c}
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread

missing=()
[ -f "$data/train-images-idx3-ubyte.gz" ] || missing+=("the full Fashion-MNIST set in $data (apt-get install -y dataset-fashion-mnist)")
/usr/bin/python3 -c "import torch" 2>/dev/null || missing+=("PyTorch for /usr/bin/python3 (apt-get install -y python3-torch libopenblas0-pthread)")
[ -f "$peer" ] || missing+=("the peer script at $peer (set PEER=...)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'compare.sh cannot run; missing:\n'; printf '  - %s\n' "${missing[@]}"; exit 2
fi

dotnet build -c Release samples/FashionMnist >/dev/null || { echo "build failed"; exit 1; }
dotnet build -c Release bench/Vae.Benchmarks >/dev/null || { echo "build failed"; exit 1; }
app=samples/FashionMnist/bin/Release/net10.0/FashionMnist.dll
out=$(mktemp -d)

# The OpenBLAS floor is optional: without its source, gcc or the headers the comparison runs without it.
blas=""
if [ ! -f "$blas_src" ]; then echo "OpenBLAS floor skipped: no $blas_src (set BLAS_STEP=...)"
elif [ ! -f /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ]; then echo "OpenBLAS floor skipped: apt-get install -y libopenblas-pthread-dev"
elif gcc -O2 "$blas_src" -o "$out/blas_step" -I/usr/include/x86_64-linux-gnu/openblas-pthread -L"$openblas" -lopenblas -Wl,-rpath,"$openblas"; then blas="$out/blas_step"
else echo "OpenBLAS floor skipped: gcc could not build $blas_src"; fi

ours=(); theirs=(); floor=()
for ((r = 1; r <= runs; r++)); do
  line=$(dotnet "$app" train --epochs 1 --threads "$threads" --data "$data" --out "$out" | grep '^epoch 1 ')
  ours+=("$(echo "$line" | awk '{print $4}')"); echo "run $r vae:     $line"
  line=$(/usr/bin/python3 "$peer" --epochs 1 --threads "$threads" --data "$data" | grep '^epoch 1 ')
  theirs+=("$(echo "$line" | awk '{print $4}')"); echo "run $r pytorch: $line"
  if [ -n "$blas" ]; then
    line=$(OPENBLAS_NUM_THREADS="$threads" "$blas" 128 400)
    floor+=("$(echo "$line" | awk '{print $4}')"); echo "run $r openblas gemm-only: $line"
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")
echo "median epoch seconds: vae $m_ours pytorch $m_theirs"
echo "training ratio (pytorch / vae): $(awk -v a="$m_theirs" -v b="$m_ours" 'BEGIN {printf "%.2f", a / b}')"
if [ ${#floor[@]} -gt 0 ]; then
  m_floor=$(median "${floor[@]}")
  echo "median OpenBLAS GEMM-only epoch seconds: $m_floor; vae / floor: $(awk -v a="$m_ours" -v b="$m_floor" 'BEGIN {printf "%.2f", a / b}')"
fi

inf_ours=$(dotnet bench/Vae.Benchmarks/bin/Release/net10.0/Vae.Benchmarks.dll inference --data "$data")
inf_theirs=$(/usr/bin/python3 bench/torch_inference.py --threads "$threads" --data "$data")
echo "inference vae:     $inf_ours"
echo "inference pytorch: $inf_theirs"
echo "$inf_ours $inf_theirs" | awk '{printf "inference ratios (vae / pytorch): encode %.2f decode %.2f\n", $2 / $6, $4 / $8}'
rm -rf "$out"
