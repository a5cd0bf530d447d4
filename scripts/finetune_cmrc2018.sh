#!/usr/bin/env bash
# Fine-tunes cmrc2018 with the CMRC 2018 baseline recipe HFL published (--span_recipe=hfl, the default): lr 3e-5, batch 32, 2 epochs, length 512, doc_stride 128, 10% warm-up.
# Usage: scripts/finetune_cmrc2018.sh --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...]
RUNNER=run_cmrc2018.py
TASK=cmrc2018
MODES=(--do_train --do_eval)  # the test set is hidden: add --do_predict with --predict_split=trial to write predictions for the public trial set
HPARAMS=(
  --learning_rate=3e-5
  --max_seq_length=512
  --doc_stride=128
  --train_batch_size=32
  --num_train_epochs=2
  --warmup_proportion=0.1
)
source "$(dirname "${BASH_SOURCE[0]}")/finetune_common.sh"
