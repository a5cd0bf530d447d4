# coding=utf-8
r"""Fine-tunes LERT (or any BERT checkpoint) on character-level NER:
MSRA-NER and People's Daily (one `char TAG` per line, tab or space, a blank
line between sentences; BIO, or BIOES with --tag_scheme=bioes).

Sentences longer than max_seq_length - 2 are cut into overlapping windows and
every character is scored exactly once. Metric: entity-level F1 (exact span
and type, conlleval). Predictions: <output_dir>/<split>/predictions.txt in the
input format.

  python run_ner.py --task_name=msra_ner --data_dir=DATA/msra_ner/derived_bio \
    --bert_config_file=lert/bert_config.json --init_checkpoint=lert/bert_model.ckpt \
    --output_dir=out --do_train --do_eval --max_seq_length=256
"""

from absl import flags

from lert import errors
from lert.finetune import common
from lert.finetune import driver
from lert.finetune import tagging
from lert.finetune import tasks

T = common.TAGGING
_LABELS = tagging.bio_labels(tagging.NER_TYPES)  # --tag_scheme=bioes extends them

for _task in [
    # MSRA has no dev split: the paper reports the test set.
    common.Task("msra_ner", T, {"train": "train.bio", "test": "test.bio"},
                tagging.read_char_tag_file, _LABELS, eval_split="test"),
    # HFL's People's Daily copy has no test split: the paper reports dev.
    common.Task("peopledaily", T, {"train": "train.txt", "dev": "dev.txt"},
                tagging.read_char_tag_file, _LABELS, predict_split="dev"),
]:
  tasks.register_task(_task)


def main(argv, flag_values=None):
  del argv  # everything comes from the flags
  driver.main_for_family(T, flag_values if flag_values is not None else flags.FLAGS)


if __name__ == "__main__":
  driver.define_flags(flags.FLAGS, T)
  errors.run_main(main)
