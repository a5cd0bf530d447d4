# coding=utf-8
r"""Fine-tunes LERT (or any BERT checkpoint) on sentence(-pair) classification.

Tasks: chnsenticorp, tnews, xnli, lcqmc, bq, ocnli, each read from its official
file names in --data_dir. Metric: accuracy; predictions go to
<output_dir>/<split>/predictions.tsv with labels in the task's own names.

  python run_classifier.py --task_name=chnsenticorp --data_dir=DATA/chnsenticorp \
    --bert_config_file=lert/bert_config.json --init_checkpoint=lert/bert_model.ckpt \
    --output_dir=out --do_train --do_eval --learning_rate=2e-5
"""

from absl import flags

from lert.finetune import classification
from lert import errors
from lert.finetune import common
from lert.finetune import driver
from lert.finetune import tasks

C = common.CLASSIFICATION
for _task in [
    common.Task("chnsenticorp", C, {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
                classification.read_chnsenticorp, classification.BINARY_LABELS),
    # CLUE's TNEWS test.json carries no labels.
    common.Task("tnews", C, {"train": "train.json", "dev": "dev.json", "test": "test.json"},
                classification.read_tnews, classification.TNEWS_LABELS),
    common.Task("xnli", C, {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"},
                classification.read_xnli, classification.NLI_LABELS),
    common.Task("lcqmc", C, {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"},
                classification.read_lcqmc, classification.BINARY_LABELS),
    common.Task("bq", C, {"train": "train.csv", "dev": "dev.csv", "test": "test.csv"},
                classification.read_bq, classification.BINARY_LABELS),
    # OCNLI: "train" is the 50k set; --train_split=train_10k / train_3k picks
    # the official smaller ones. test.json carries no labels.
    common.Task("ocnli", C, {"train": "train.50k.json", "train_10k": "train.10k.json",
                             "train_3k": "train.3k.json", "dev": "dev.json",
                             "test": "test.json"},
                classification.read_ocnli, classification.NLI_LABELS),
]:
  tasks.register_task(_task)


def main(argv, flag_values=None):
  del argv  # everything comes from the flags
  driver.main_for_family(C, flag_values if flag_values is not None else flags.FLAGS)


if __name__ == "__main__":
  driver.define_flags(flags.FLAGS, C)
  errors.run_main(main)
