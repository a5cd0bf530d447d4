# coding=utf-8
r"""Fine-tunes LERT (or any BERT checkpoint) on span-extraction reading
comprehension: CMRC 2018 and DRCD (SQuAD-style JSON).

Writes <output_dir>/<split>/predictions.json and nbest_predictions.json and
scores them with the CMRC 2018 metric (cmrc2018_evaluate.py: EM and F1).

The default, --span_recipe=hfl, is the paper's recipe: what HFL's CMRC 2018 /
DRCD baseline script computes (its tokenizer, question positions masked in
training and prediction, per-window log-softmax scores); --span_recipe=google
is Google's run_squad. --head_layout=google reads/writes run_squad's head names.

  python run_cmrc2018.py --task_name=cmrc2018 --data_dir=DATA/cmrc2018/squad-style \
    --bert_config_file=lert/bert_config.json --init_checkpoint=lert/bert_model.ckpt \
    --output_dir=out --do_train --do_eval --max_seq_length=512 --doc_stride=128 \
    --learning_rate=3e-5 --train_batch_size=32 --num_train_epochs=2
"""

from absl import flags

from lert import errors
from lert.finetune import common
from lert.finetune import driver
from lert.finetune import span
from lert.finetune import tasks

S = common.SPAN
for _task in [
    # The CMRC 2018 test and challenge sets are hidden (scored by the
    # organisers); trial is the public sample.
    common.Task("cmrc2018", S, {"train": "cmrc2018_train.json", "dev": "cmrc2018_dev.json",
                                "trial": "cmrc2018_trial.json", "test": "cmrc2018_test.json"},
                span.read_squad_examples),
    common.Task("drcd", S, {"train": "DRCD_training.json", "dev": "DRCD_dev.json",
                            "test": "DRCD_test.json"},
                span.read_squad_examples),
]:
  tasks.register_task(_task)


def main(argv, flag_values=None):
  del argv  # everything comes from the flags
  driver.main_for_family(S, flag_values if flag_values is not None else flags.FLAGS)


if __name__ == "__main__":
  driver.define_flags(flags.FLAGS, S)
  errors.run_main(main)
