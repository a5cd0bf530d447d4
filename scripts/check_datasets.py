# coding=utf-8
"""Runs every fine-tuning task's reader over the real data and checks counts.

  python scripts/check_datasets.py --data_dir ../shared/data [--convert]

The folder layout and the expected counts are those of the evaluation data's
README (one folder per data set). Prints what each reader counted (examples,
dropped labels, answers that do not match their context, ...), and with
--convert also what feature conversion reports (windows, skipped answers).
Exits non-zero if any count differs from the README.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lert.finetune import common  # noqa: E402
from lert.finetune import driver  # noqa: E402
from lert.finetune import tagging  # noqa: E402
from lert.finetune import tasks  # noqa: E402
import run_classifier  # noqa: E402,F401  (registers the tasks)
import run_cmrc2018  # noqa: E402,F401
import run_ner  # noqa: E402,F401
import tokenization  # noqa: E402

# task -> (folder under --data_dir, {split: count in the README}).
# Classification counts are lines (OCNLI's dropped "-" labels included),
# reading comprehension counts questions, NER counts sentences.
EXPECTED = [
    ("chnsenticorp", "chnsenticorp",
     {"train": 9600, "dev": 1200, "test": 1200}),
    ("tnews", "tnews", {"train": 53360, "dev": 10000}),
    ("xnli", "xnli_zh", {"dev": 2490, "test": 5010}),
    ("lcqmc", "lcqmc", {"dev": 8802, "test": 12500}),
    ("bq", "bq_corpus", {"train": 100000, "dev": 10000, "test": 10000}),
    ("ocnli", "ocnli", {"train": 50486, "train_10k": None, "train_3k": None,
                        "dev": 3000, "test": 3000}),
    ("cmrc2018", os.path.join("cmrc2018", "squad-style"),
     {"train": 10142, "dev": 3219, "trial": 1002}),
    ("drcd", "drcd", {"dev": 3524, "test": 3493}),
    ("msra_ner", os.path.join("msra_ner", "derived_bio"),
     {"train": 46364, "test": 4365}),
    ("peopledaily", "peopledaily", {"train": 50658, "dev": 4631}),
]
# The BIO test file HFL's Chinese-BERT-wwm points to (same task, other copy).
EXTRA_NER = (os.path.join("msra_ner", "bio_OYE93", "msra_test_bio.txt"), 3442)

# Conversion with each family's default settings (the scripts' flag defaults).
SETTINGS = dict((family, driver.FinetuneConfig(family).input_settings())
                for family in tasks.FAMILIES)


def count(task, examples, stats):
  if task.family == common.CLASSIFICATION:
    return len(examples) + stats.get("dropped_no_label", 0)
  return len(examples)


def describe(stats):
  return ", ".join("%s=%s" % kv for kv in stats.items())


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--data_dir", required=True,
                      help="folder holding one folder per data set")
  parser.add_argument("--convert", action="store_true",
                      help="also convert to features (lengths: 128 "
                      "classification, 512 span, 256 tagging)")
  parser.add_argument("--vocab_file", default=os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
      "vocab.txt"))
  args = parser.parse_args(argv)
  tokenizer = tokenization.FullTokenizer(args.vocab_file, True)
  failures = []
  for name, folder, splits in EXPECTED:
    task = tasks.get_task(name)
    data_dir = os.path.join(args.data_dir, folder)
    for split, expected in splits.items():
      start = time.time()
      examples, stats = tasks.read_split(task, data_dir, split)
      n = count(task, examples, stats)
      verdict = "ok" if expected in (None, n) else "MISMATCH (README: %d)" % (
          expected)
      if expected is not None and n != expected:
        failures.append("%s %s: %d, README %d" % (name, split, n, expected))
      extra = ""
      if task.family == common.TAGGING:
        extra = ", longest sentence=%d" % max(len(e.tokens) for e in examples)
      print("%-12s %-9s %7d %s  [%s%s] %.1fs" % (
          name, split, n, verdict, describe(stats), extra,
          time.time() - start))
      if args.convert:
        family = tasks.FAMILIES[task.family]
        is_training = split.startswith("train")
        if is_training and task.family == common.CLASSIFICATION:
          examples = [e for e in examples if e.label is not None]
        _, _, conv = family.convert(task, examples, tokenizer,
                                    SETTINGS[task.family], is_training)
        print("%-12s %-9s features: %s" % ("", "", describe(conv)))
  path, expected = EXTRA_NER
  examples, stats = tagging.read_char_tag_file(os.path.join(args.data_dir, path),
                                               tagging.bio_labels(tagging.NER_TYPES))
  verdict = "ok" if len(examples) == expected else "MISMATCH"
  if len(examples) != expected:
    failures.append("%s: %d, README %d" % (path, len(examples), expected))
  print("%-12s %-9s %7d %s  [%s, longest sentence=%d]" % (
      "msra_ner", "OYE93", len(examples), verdict, describe(stats),
      max(len(e.tokens) for e in examples)))
  if failures:
    print("Counts differ from the README:\n  " + "\n  ".join(failures))
    return 1
  print("All counts match the data README.")
  return 0


if __name__ == "__main__":
  sys.exit(main())
