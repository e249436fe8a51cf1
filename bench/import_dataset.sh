# Sourced by bench/quality.sh and bench/verdict.sh: import_dataset WHICH WORKSPACE-ARGS... imports
# the synthetic XING-scale log, MovieLens 100K or the Taobao slice as the result tables describe.
import_dataset() {
  local which=$1; shift
  case $which in
    xing) python main.py generate --preset xing_scale --seed 0 --import --name xing "$@" ;;
    ml100k) python main.py import ../shared/data/ml100k_recbole/ml-100k.inter --name ml100k "$@" ;;
    taobao) python main.py import ../shared/data/taobao_userbehavior_head/UserBehavior_head.csv \
              --preset taobao-category --skip-invalid-rows --min-item-support 20 --name taobao "$@" ;;
    *) echo "unknown dataset $which" >&2; exit 2 ;;
  esac
}
