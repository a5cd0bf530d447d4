#!/usr/bin/env bash
# Fine-tunes peopledaily with lr 3e-5, length 256, batch 32, 3 epochs: this project's choice (HFL's NER settings are not published). Scored on dev, as the paper reports.
# Usage: scripts/finetune_peopledaily.sh --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...]
RUNNER=run_ner.py
TASK=peopledaily
MODES=(--do_train --do_eval --do_predict)
HPARAMS=(
  --learning_rate=3e-5
  --max_seq_length=256
  --doc_stride=128
  --train_batch_size=32
  --num_train_epochs=3
  --warmup_proportion=0.1
)
source "$(dirname "${BASH_SOURCE[0]}")/finetune_common.sh"
