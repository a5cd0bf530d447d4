# coding=utf-8
"""Runs every fine-tuning task's reader over your copies of the data sets and checks counts.

  python scripts/check_datasets.py --data_dir data [--tasks cmrc2018,drcd] [--convert]

`--data_dir` holds one folder per task, named as the task (`data/cmrc2018/`,
`data/chnsenticorp/`, ...), each with the task's official file names
(docs/fine-tuning.md, "Data sources and layout"). Every split file that is there
is read; a missing one is listed and skipped. Prints what each reader counted
(examples, dropped labels, answers that do not match their context, ...) and,
with --convert, what feature conversion reports (windows, skipped answers).
Exits with 1 if a count differs from the official file's, 2 on a file that
cannot be read (one `error:` line).
"""

import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lert  # noqa: E402
from lert import errors  # noqa: E402
from lert import settings  # noqa: E402
from lert.finetune import common  # noqa: E402
from lert.finetune import driver  # noqa: E402
from lert.finetune import tasks  # noqa: E402
import run_classifier  # noqa: E402,F401  (registers the tasks)
import run_cmrc2018  # noqa: E402,F401
import run_ner  # noqa: E402,F401

# task -> {split: examples in the official file}; None: not checked (its count was
# not verified here). Classification counts lines (OCNLI's dropped "-" labels
# included), reading comprehension counts questions, NER counts sentences.
EXPECTED = collections.OrderedDict([
    ("chnsenticorp", {"train": 9600, "dev": 1200, "test": 1200}),
    ("tnews", {"train": 53360, "dev": 10000, "test": None}),
    ("xnli", {"train": None, "dev": 2490, "test": 5010}),
    ("lcqmc", {"train": None, "dev": 8802, "test": 12500}),
    ("bq", {"train": 100000, "dev": 10000, "test": 10000}),
    ("ocnli", {"train": 50486, "train_10k": 10000, "train_3k": 3000, "dev": 3000,
               "test": 3000}),
    ("cmrc2018", {"train": 10142, "dev": 3219, "trial": 1002, "test": None}),
    ("drcd", {"train": None, "dev": 3524, "test": 3493}),
    ("msra_ner", {"train": 46364, "test": 4365}),
    ("peopledaily", {"train": 50658, "dev": 4631}),
])

# Conversion with each family's default settings (the scripts' flag defaults).
CONFIGS = dict((family, driver.FinetuneConfig(family)) for family in tasks.FAMILIES)


def count(task, examples, stats):
  if task.family == common.CLASSIFICATION:
    return len(examples) + stats.get("dropped_no_label", 0)
  return len(examples)


def describe(stats):
  return ", ".join("%s=%s" % kv for kv in stats.items())


def main(argv=None):
  parser = settings.ArgumentParser(prog="check_datasets.py",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_dir", required=True,
                      help="folder holding one folder per task, named as the task")
  parser.add_argument("--tasks", default=",".join(EXPECTED),
                      help="comma-separated tasks to check (default: all)")
  parser.add_argument("--convert", action="store_true",
                      help="also convert to features (lengths: 128 "
                      "classification, 512 span, 256 tagging)")
  parser.add_argument("--vocab_file", default=lert.DEFAULT_VOCAB_FILE)
  args = parser.parse_args(argv)
  names = [name.strip() for name in args.tasks.split(",") if name.strip()]
  unknown = [name for name in names if name not in EXPECTED]
  if unknown:
    parser.error("--tasks: unknown task(s) %s (choose from %s)" % (
        ", ".join(unknown), ", ".join(EXPECTED)))
  tokenizers = {}
  failures, absent = [], []
  for name in names:
    task = tasks.get_task(name)
    data_dir = os.path.join(args.data_dir, name)
    for split, expected in EXPECTED[name].items():
      if not os.path.isfile(os.path.join(data_dir, task.splits[split])):
        absent.append(os.path.join(name, task.splits[split]))
        continue
      start = time.time()
      examples, stats = tasks.read_split(task, data_dir, split)
      n = count(task, examples, stats)
      verdict = ("ok" if expected == n else "not checked" if expected is None else
                 "MISMATCH (official: %d)" % expected)
      if expected is not None and n != expected:
        failures.append("%s %s: %d, official file %d" % (name, split, n, expected))
      extra = ""
      if task.family == common.TAGGING:
        extra = ", longest sentence=%d" % max(len(e.tokens) for e in examples)
      print("%-12s %-9s %7d %s  [%s%s] %.1fs" % (
          name, split, n, verdict, describe(stats), extra, time.time() - start))
      if args.convert:
        family = tasks.FAMILIES[task.family]
        is_training = split.startswith("train")
        if is_training and task.family == common.CLASSIFICATION:
          examples = [e for e in examples if e.label is not None]
        config = CONFIGS[task.family]
        if task.family not in tokenizers:
          config.vocab_file = args.vocab_file
          tokenizers[task.family] = driver.make_tokenizer(config)
        _, _, conv = family.convert(task, examples, tokenizers[task.family],
                                    config.input_settings(), is_training)
        print("%-12s %-9s features: %s" % ("", "", describe(conv)))
  if absent:
    print("Not in --data_dir (skipped): " + ", ".join(absent))
  if failures:
    print("Counts differ from the official files':\n  " + "\n  ".join(failures))
    return 1
  print("Every file present has the official file's count.")
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
