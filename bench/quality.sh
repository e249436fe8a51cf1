#!/usr/bin/env bash
# The quality bar of the evaluation and baselines issues: every registered baseline (the paper's
# three, the session-based SKNN, V-SKNN, STAN, SR, Markov and the session-aware V-SKNN_EBR, STAN_EBR,
# SR_BR, ...; each with its defaults) and every registered network (its default preset: the paper's
# small one for the recurrent networks; SEEDS seeds) on a dataset, then the Table-3-style report with
# both breakdowns. The lists come from the model registry (python main.py models). Results go to
# RESULTS.md by hand.
# NETWORKS="rnn hrnn-init" trains only those networks (default: every registered one).
#   bench/quality.sh xing   [SEEDS]   # synthetic log at XING scale (about 25 min on 2 cores)
#   bench/quality.sh ml100k [SEEDS]   # MovieLens 100K from ../shared/data
#   bench/quality.sh taobao [SEEDS]   # Taobao slice, category as item, from ../shared/data
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:?xing, ml100k or taobao}
seeds=${2:-3}
folder=${QUALITY_FOLDER:-/tmp/hrnn-quality-$which}
mkdir -p "$folder"
ws=(--workspace "$folder/workspace.sqlite")
source bench/import_dataset.sh
import_dataset "$which" "${ws[@]}"
for model in $(python main.py models --kind baseline --names); do
  python main.py train "$which" --model "$model" "${ws[@]}"
done
for model in ${NETWORKS:-$(python main.py models --kind neural --names)}; do
  python main.py train "$which" --model "$model" --seeds "$seeds" "${ws[@]}"
done
python main.py report "$which" --k 5 10 20 --breakdown history --breakdown position "${ws[@]}" \
  --csv "$folder/comparison.csv" | tee "$folder/report.txt"
