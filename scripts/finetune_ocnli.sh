#!/usr/bin/env bash
# Fine-tunes ocnli with lr 2e-5, length 128, batch 32, 3 epochs on train.50k: this project's choice (HFL's OCNLI settings are not published).
# Usage: scripts/finetune_ocnli.sh --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...]
RUNNER=run_classifier.py
TASK=ocnli
MODES=(--do_train --do_eval --do_predict)
HPARAMS=(
  --learning_rate=2e-5
  --max_seq_length=128
  --num_train_epochs=3
  --train_batch_size=32
  --warmup_proportion=0.1
)
source "$(dirname "${BASH_SOURCE[0]}")/finetune_common.sh"
