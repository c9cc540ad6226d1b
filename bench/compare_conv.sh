#!/usr/bin/env bash
# The convolutional sample model (--model conv, the Keras example's shape) against its PyTorch peer
# (../shared/peers/torch_conv_vae.py) on the same images, the two alternating: train_seconds of one epoch on the first
# LIMIT training images, each run printed, then the medians and the peer / ours ratio. Installs nothing: it says what
# is missing.
#   bench/compare_conv.sh [runs (default 3)]     environment: PEER=path LIMIT=12000 THREADS=2 LATENT=2 DATA=dir
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
threads=${THREADS:-2}
limit=${LIMIT:-12000}
latent=${LATENT:-2}
data=${DATA:-/usr/share/datasets/fashion-mnist/}
peer=${PEER:-../shared/peers/torch_conv_vae.py}

missing=()
[ -f "$data/train-images-idx3-ubyte.gz" ] || missing+=("the full Fashion-MNIST set in $data (apt-get install -y dataset-fashion-mnist)")
/usr/bin/python3 -c "import torch" 2>/dev/null || missing+=("PyTorch for /usr/bin/python3 (apt-get install -y python3-torch libopenblas0-pthread)")
[ -f "$peer" ] || missing+=("the peer script at $peer (set PEER=...)")
if [ ${#missing[@]} -gt 0 ]; then
  printf 'compare_conv.sh cannot run; missing:\n'; printf '  - %s\n' "${missing[@]}"; exit 2
fi

dotnet build -c Release samples/FashionMnist >/dev/null || { echo "build failed"; exit 1; }
app=samples/FashionMnist/bin/Release/net10.0/FashionMnist.dll
out=$(mktemp -d)
ours=(); theirs=()
for ((r = 1; r <= runs; r++)); do
  line=$(dotnet "$app" train --model conv --latent "$latent" --epochs 1 --limit "$limit" --threads "$threads" --data "$data" --out "$out" | grep '^epoch 1 ')
  ours+=("$(echo "$line" | awk '{print $4}')"); echo "run $r vae:     $line"
  line=$(/usr/bin/python3 "$peer" --epochs 1 --limit "$limit" --threads "$threads" --latent "$latent" --data "$data" | grep '^epoch 1 ')
  theirs+=("$(echo "$line" | awk '{print $4}')"); echo "run $r pytorch: $line"
done
rm -rf "$out"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}")
echo "median train_seconds: vae $m_ours, pytorch $m_theirs; pytorch / vae = $(awk -v a="$m_theirs" -v b="$m_ours" 'BEGIN {printf "%.1f", a / b}')x"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
