#!/usr/bin/env bash
# The README's objectives table: the default model (784-400-[20]-400-784, Bernoulli) trained with the ELBO, the
# importance-weighted bound (K = 5) and the same bound with DReG gradients, equal epochs, two seeds each; then the
# test ELBO, the importance-sampled log-likelihood (K = 5000) and the active units (Burda et al.'s measure).
#   bench/objectives.sh [epochs (default 10)] [test images for the K = 5000 estimate (default 2000)]
set -uo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-10}
images=${2:-2000}
data=${DATA:-/usr/share/datasets/fashion-mnist/}
[ -f "$data/train-images-idx3-ubyte.gz" ] || { echo "needs the full Fashion-MNIST set in $data (apt-get install -y dataset-fashion-mnist)"; exit 2; }
dotnet build -c Release samples/FashionMnist >/dev/null || { echo "build failed"; exit 1; }
app=samples/FashionMnist/bin/Release/net10.0/FashionMnist.dll
out=${OUT:-runs/objectives}
printf '%-9s %-5s %-12s %-16s %-12s %-14s\n' objective seed test_elbo test_log_lik active_units train_seconds
for seed in 1 2; do
  for objective in elbo iwae dreg; do
    dir="$out/$objective-$seed"
    seconds=$(dotnet "$app" train --objective "$objective" --epochs "$epochs" --seed "$seed" --data "$data" --out "$dir" 2>/dev/null \
      | awk '/^epoch/ {s += $4} END {printf "%.1f", s}')
    result=$(dotnet "$app" evaluate --checkpoint "$dir/checkpoint.safetensors" --importance-samples 5000 --limit "$images" --data "$data" 2>/dev/null)
    elbo=$(echo "$result" | awk '/^test_elbo/ {print $2}')
    ll=$(echo "$result" | awk '/^test_log_likelihood/ {print $2}')
    active=$(echo "$result" | awk '/^active_units/ {print $2}')
    printf '%-9s %-5s %-12s %-16s %-12s %-14s\n' "$objective" "$seed" "$elbo" "$ll" "$active" "$seconds"
  done
done
