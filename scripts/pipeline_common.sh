# Shared helpers of scripts/demo.sh and scripts/ablation.sh (sourced, not run).
# Before sourcing, the caller sets:
#   pipeline  its name, for messages ("demo", "ablation")
#   out       the output folder; every step's whole output goes to $out/logs/NAME.log
# and afterwards, for finetune_sentiment_and_ner: config, data, finetune_lr,
# sentiment_epochs, ner_epochs.
# PYTHON selects the interpreter; unset, the TF 2.15 environment is built if
# needed and used (it is the faster one on CPUs).

if [ -z "${PYTHON:-}" ]; then
  bash scripts/setup_envs.sh tf2
  PYTHON=.venv-tf2/bin/python
fi

_step_failed() {
  echo "$pipeline: step '$1' failed; the end of $out/logs/$1.log:" >&2
  tail -n 30 "$out/logs/$1.log" >&2
  exit 1
}

# run NAME CMD...: prints the command and keeps its output in $out/logs/NAME.log.
run() {
  local name=$1; shift
  mkdir -p "$out/logs"
  printf '+ %s\n' "$*"
  "$@" > "$out/logs/$name.log" 2>&1 || _step_failed "$name"
}

# run_shown NAME CMD...: as run, then shows the output.
run_shown() {
  run "$@"
  cat "$out/logs/$1.log"
}

# tf NAME CMD...: as run for a TensorFlow command, showing as it goes only the
# lines that tell progress and results; TensorFlow's chatter stays in the log.
TF_PROGRESS='^INFO:tensorflow:(loss = |Saving dict|Initialising from|LIP|Wrote|Resuming|[*]{5})|Error|error:'
tf() {
  local name=$1; shift
  mkdir -p "$out/logs"
  printf '+ %s\n' "$*"
  set +o pipefail
  "$@" 2>&1 | tee "$out/logs/$name.log" | grep --line-buffered -E "$TF_PROGRESS" \
    | sed -u 's/^INFO:tensorflow:/  /'
  local status=${PIPESTATUS[0]}
  set -o pipefail
  [ "$status" = 0 ] || _step_failed "$name"
}

# finetune_sentiment_and_ner STEP INIT SEED [CHECKPOINT]: fine-tunes sentiment
# (run_classifier.py, chnsenticorp layout, held-out test split) and NER on
# People's Daily's gold names (run_ner.py, msra_ner layout: train.bio, test.bio)
# from CHECKPOINT, or from random initialisation without one. STEP is run or tf;
# outputs go to $out/sentiment_INIT/seed_SEED and $out/ner_INIT/seed_SEED.
finetune_sentiment_and_ner() {
  local step=$1 init=$2 seed=$3 init_flag=()
  [ $# -ge 4 ] && init_flag=(--init_checkpoint="$4")
  local common=(--bert_config_file="$config" ${init_flag[@]+"${init_flag[@]}"} --seed="$seed"
                --max_seq_length=128 --train_batch_size=32 --learning_rate="$finetune_lr")
  "$step" "sentiment_${init}_seed_$seed" "$PYTHON" run_classifier.py --task_name=chnsenticorp \
    --data_dir="$data/sentiment" --output_dir="$out/sentiment_$init/seed_$seed" \
    --do_train --do_eval --do_predict --num_train_epochs="$sentiment_epochs" "${common[@]}"
  "$step" "ner_${init}_seed_$seed" "$PYTHON" run_ner.py --task_name=msra_ner \
    --data_dir="$data/ner" --output_dir="$out/ner_$init/seed_$seed" \
    --do_train --do_eval --num_train_epochs="$ner_epochs" "${common[@]}"
}
