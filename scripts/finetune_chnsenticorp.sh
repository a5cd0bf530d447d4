#!/usr/bin/env bash
# Fine-tunes chnsenticorp with HFL's published lr 2e-5. Length 256 (reviews are long), batch 32, 3 epochs: this project's choice (HFL published no other values).
# Usage: scripts/finetune_chnsenticorp.sh --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...]
RUNNER=run_classifier.py
TASK=chnsenticorp
MODES=(--do_train --do_eval --do_predict)
HPARAMS=(
  --learning_rate=2e-5
  --max_seq_length=256
  --num_train_epochs=3
  --train_batch_size=32
  --warmup_proportion=0.1
)
source "$(dirname "${BASH_SOURCE[0]}")/finetune_common.sh"
