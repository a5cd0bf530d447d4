#!/usr/bin/env bash
# Fine-tunes drcd with HFL's published lr 3e-5; the rest as the CMRC 2018 baseline (batch 32, 2 epochs, length 512, doc_stride 128, 10% warm-up). DRCD has no public train file here: put DRCD_training.json in --data_dir.
# Usage: scripts/finetune_drcd.sh --init_checkpoint PATH --data_dir DIR --output_dir DIR [flags...]
RUNNER=run_cmrc2018.py
TASK=drcd
MODES=(--do_train --do_eval --do_predict)
HPARAMS=(
  --learning_rate=3e-5
  --max_seq_length=512
  --doc_stride=128
  --train_batch_size=32
  --num_train_epochs=2
  --warmup_proportion=0.1
)
source "$(dirname "${BASH_SOURCE[0]}")/finetune_common.sh"
