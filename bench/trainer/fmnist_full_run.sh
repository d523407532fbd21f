#!/usr/bin/env bash
# Full RAT run on Fashion-MNIST with the small CNN, on CPU, timed.
# Usage: bench/trainer/fmnist_full_run.sh BUILD_DIR [OUTPUT_DIR]
# Prints the wall time; the test accuracy is in rat-train's log.
set -euo pipefail
build_dir=${1:?usage: $0 BUILD_DIR [OUTPUT_DIR]}
output_dir=${2:-/tmp/rat-fmnist-run}
start=$(date +%s)
"${build_dir}/trainer/rat-train" --dataset fashion-mnist --arch small_cnn \
  --method rat --eps 1e-3 --epochs 8 --batch-size 128 --lr 0.05 --threads 2 \
  --warmup-epochs 1 --weight-decay 5e-4 --seed 0 --progress log \
  --output-dir "${output_dir}" --metrics-file "${output_dir}/metrics.jsonl"
end=$(date +%s)
echo "wall time: $((end - start)) s"
