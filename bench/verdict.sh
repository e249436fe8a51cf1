#!/usr/bin/env bash
# The quality bar of the tuning issue: `compare` on a dataset with a stated budget (every model
# tuned with the same number of trials on the validation split, the best trained with SEEDS seeds
# on the full training split, evaluated on the test split), its table and verdict. Results go to
# RESULTS.md by hand. The datasets are imported exactly as bench/quality.sh imports them.
#   bench/verdict.sh ml100k [TRIALS] [SEEDS]
#   bench/verdict.sh taobao [TRIALS] [SEEDS]
#   bench/verdict.sh xing   [TRIALS] [SEEDS]   # MODELS="..." to compare fewer models (default: every
#                                              # registered one, as python main.py models lists them)
# TRIALS may be a time per model instead (30m, 1h): every model is tuned for that long.
# WORKERS=N: worker processes for the tuning and the final trainings (default 2: both cores here).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:?xing, ml100k or taobao}
trials=${2:-10}
case $trials in
  *[smh]) budget=(--budget "$trials") ;;
  *) budget=(--trials "$trials") ;;
esac
seeds=${3:-3}
workers=${WORKERS:-2}
folder=${VERDICT_FOLDER:-/tmp/hrnn-verdict-$which}
mkdir -p "$folder"
ws=(--workspace "$folder/workspace.sqlite")
source bench/import_dataset.sh
import_dataset "$which" "${ws[@]}"
models=${MODELS:-$(python main.py models --names)}
# shellcheck disable=SC2086
/usr/bin/time -v python main.py compare "$which" --models $models "${budget[@]}" --seeds "$seeds" \
  --workers "$workers" --search-seed 0 "${ws[@]}" 2> >(tee "$folder/compare.err" >&2) | tee "$folder/compare.txt"
