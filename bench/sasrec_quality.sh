#!/usr/bin/env bash
# SASRec and its session-only twin at their defaults (SEEDS seeds) beside every baseline at its
# defaults and, with NETWORKS="rnn hrnn-init", those networks' small presets, on one dataset; then
# the report (conservative ties, every item ranked) with the history and position breakdowns.
#   bench/sasrec_quality.sh ml100k|taobao|xing [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:?xing, ml100k or taobao}
seeds=${2:-3}
folder=${QUALITY_FOLDER:-/tmp/hrnn-sasrec-quality-$which}
mkdir -p "$folder"
ws=(--workspace "$folder/workspace.sqlite")
source bench/import_dataset.sh
import_dataset "$which" "${ws[@]}"
for model in pop personal-pop item-knn sknn v-sknn stan sr markov v-sknn-ebr stan-ebr sr-br; do
  python main.py train "$which" --model "$model" "${ws[@]}"
done
for model in ${NETWORKS:-}; do
  python main.py train "$which" --model "$model" --preset small --seeds "$seeds" "${ws[@]}"
done
for model in sasrec sasrec-session; do
  python main.py train "$which" --model "$model" --seeds "$seeds" "${ws[@]}"
done
python main.py report "$which" --k 5 10 20 --breakdown history --breakdown position "${ws[@]}" \
  --csv "$folder/comparison.csv" | tee "$folder/report.txt"
