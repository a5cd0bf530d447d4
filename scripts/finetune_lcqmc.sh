#!/usr/bin/env bash
# Fine-tunes lcqmc with HFL's published lr 2e-5. Length 128, batch 32, 3 epochs: this project's choice (HFL published no other values).
# Usage: scripts/finetune_lcqmc.sh --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...]
RUNNER=run_classifier.py
TASK=lcqmc
MODES=(--do_train --do_eval --do_predict)
HPARAMS=(
  --learning_rate=2e-5
  --max_seq_length=128
  --num_train_epochs=3
  --train_batch_size=32
  --warmup_proportion=0.1
)
source "$(dirname "${BASH_SOURCE[0]}")/finetune_common.sh"
