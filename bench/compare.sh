#!/usr/bin/env bash
# Our sample's one-epoch training time against the PyTorch peer on this machine, the two alternating, and the
# encode/decode throughput of both. Prints each run, the medians and the ratios. Installs nothing: it says what is missing.
#   bench/compare.sh [runs (default 5)]      environment: PEER=path/to/torch_vae.py DATA=dir THREADS=2
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
threads=${THREADS:-2}
data=${DATA:-/usr/share/datasets/fashion-mnist/}
peer=${PEER:-../shared/peers/torch_vae.py}

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

ours=(); theirs=()
for ((r = 1; r <= runs; r++)); do
  line=$(dotnet "$app" train --epochs 1 --threads "$threads" --data "$data" --out "$out" | grep '^epoch 1 ')
  ours+=("$(echo "$line" | awk '{print $4}')"); echo "run $r vae:     $line"
  line=$(/usr/bin/python3 "$peer" --epochs 1 --threads "$threads" --data "$data" | grep '^epoch 1 ')
  theirs+=("$(echo "$line" | awk '{print $4}')"); echo "run $r pytorch: $line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")
echo "median epoch seconds: vae $m_ours pytorch $m_theirs"
echo "training ratio (pytorch / vae): $(awk -v a="$m_theirs" -v b="$m_ours" 'BEGIN {printf "%.2f", a / b}')"

inf_ours=$(dotnet bench/Vae.Benchmarks/bin/Release/net10.0/Vae.Benchmarks.dll inference --data "$data")
inf_theirs=$(/usr/bin/python3 bench/torch_inference.py --threads "$threads" --data "$data")
echo "inference vae:     $inf_ours"
echo "inference pytorch: $inf_theirs"
echo "$inf_ours $inf_theirs" | awk '{printf "inference ratios (vae / pytorch): encode %.2f decode %.2f\n", $2 / $6, $4 / $8}'
rm -rf "$out"
