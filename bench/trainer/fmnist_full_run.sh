#!/usr/bin/env bash
# Full RAT run on Fashion-MNIST with the small CNN, on CPU, timed.
# Usage: bench/trainer/fmnist_full_run.sh BUILD_DIR [OUTPUT_DIR] [RESULT_JSON]
# Prints the wall time and the test accuracy from rat-train's log; with
# RESULT_JSON also writes both there for bench/run's report.
set -euo pipefail
build_dir=${1:?usage: $0 BUILD_DIR [OUTPUT_DIR] [RESULT_JSON]}
output_dir=${2:-/tmp/rat-fmnist-run}
result_json=${3:-}
mkdir -p "${output_dir}"
log="${output_dir}/train.log"
start=$(date +%s)
"${build_dir}/trainer/rat-train" --dataset fashion-mnist --arch small_cnn \
  --method rat --eps 1e-3 --epochs 8 --batch-size 128 --lr 0.05 --threads 2 \
  --warmup-epochs 1 --weight-decay 5e-4 --seed 0 --progress log \
  --output-dir "${output_dir}" --metrics-file "${output_dir}/metrics.jsonl" \
  2>&1 | tee "${log}"
end=$(date +%s)
accuracy=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "${log}" | tail -n1)
[[ -n "${accuracy}" ]] || {
  echo "fmnist_full_run: no \"test accuracy\" line in ${log}" >&2
  exit 1
}
echo "wall time: $((end - start)) s"
echo "test accuracy: ${accuracy}%"
if [[ -n "${result_json}" ]]; then
  printf '{"wall_seconds": %d, "test_accuracy_percent": %s, "epochs": 8}\n' \
    "$((end - start))" "${accuracy}" >"${result_json}"
fi
