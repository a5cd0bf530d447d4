# Shared body of scripts/finetune_<task>.sh (sourced, not run).
# The task script sets RUNNER (run_*.py), TASK, the arrays HPARAMS and MODES
# (--do_train --do_eval [--do_predict]), then sources this file with its own
# arguments:
#   --init_checkpoint PATH  checkpoint prefix or directory (required)
#   --data_dir DIR          the task's official files (required)
#   --output_dir DIR        where everything is written (required)
# Any other argument (e.g. --seed=3, --bert_config_file=..., --use_tpu) is
# passed on to the Python script and overrides the recipe.
# HPARAMS is the task's recipe as the script's header states it, in full;
# every other setting is the runner's default (lert/finetune/driver.py).
# The model config and vocabulary are looked up next to the checkpoint
# (bert_config.json / lert_config.json, vocab.txt); the vocabulary falls back
# to the repository's vocab.txt. PYTHON selects the interpreter (default: .venv-tf2's
# python when that environment is built, else python on PATH).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
init_checkpoint="" data_dir="" output_dir=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --init_checkpoint=*) init_checkpoint="${1#*=}" ;;
    --data_dir=*) data_dir="${1#*=}" ;;
    --output_dir=*) output_dir="${1#*=}" ;;
    --init_checkpoint|--data_dir|--output_dir)
      [ $# -ge 2 ] || { echo "error: $0: $1 needs a value" >&2; exit 2; }
      printf -v "${1#--}" '%s' "$2"; shift ;;
    *) extra+=("$1") ;;
  esac
  shift
done
for name in init_checkpoint data_dir output_dir; do
  if [ -z "${!name}" ]; then
    echo "error: $0 needs --$name (usage: $0 --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...])" >&2
    exit 2
  fi
done
ckpt_dir="$init_checkpoint"
[ -d "$ckpt_dir" ] || ckpt_dir="$(dirname "$init_checkpoint")"
config_flag=()
case " ${extra[*]:-} " in
  *" --bert_config_file="*) ;;
  *)
    for name in bert_config.json lert_config.json; do
      if [ -f "$ckpt_dir/$name" ]; then config_flag=("--bert_config_file=$ckpt_dir/$name"); break; fi
    done
    if [ ${#config_flag[@]} -eq 0 ]; then
      echo "error: $0: no bert_config.json or lert_config.json in $ckpt_dir; pass --bert_config_file=..." >&2
      exit 2
    fi ;;
esac
vocab="$repo/vocab.txt"
[ -f "$ckpt_dir/vocab.txt" ] && vocab="$ckpt_dir/vocab.txt"
# The interpreter: $PYTHON, else the project's .venv-tf2 when it is built, else python.
python="${PYTHON:-}"
if [ -z "$python" ]; then
  python=python
  [ -x "$repo/.venv-tf2/bin/python" ] && python="$repo/.venv-tf2/bin/python"
fi
exec "$python" "$repo/$RUNNER" \
  --task_name="$TASK" \
  --init_checkpoint="$init_checkpoint" \
  --data_dir="$data_dir" \
  --output_dir="$output_dir" \
  --vocab_file="$vocab" \
  "${config_flag[@]}" \
  "${MODES[@]}" \
  "${HPARAMS[@]}" \
  ${extra[@]+"${extra[@]}"}
