"""The ablation's table (scripts/ablation.sh): `max (avg)` over seeds per initialisation.

  ablation_report.py --output_dir ablation_output --seeds 1,2,3 --seconds S --settings TEXT

Reads, per initialisation and seed, the sentiment test accuracy
(sentiment_<init>/seed_<n>/predict_results.txt: the held-out test split) and
the NER test F1 (ner_<init>/seed_<n>/eval_results.txt: msra_ner scores its test
split), and each pretraining's accuracies per head on its own training records
(pretrain_<variant>/eval_results.txt; their labels differ between variants, so
they describe each run, they do not rank them). Writes <output_dir>/summary.json.
"""

import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lert import errors  # noqa: E402
from lert import settings  # noqa: E402
from repeat_seeds import max_avg, read_numbers  # noqa: E402

INITS = (("random", "random initialisation"), ("mlm", "MLM only"),
         ("jieba", "LERT, jieba labels"), ("gold", "LERT, People's Daily gold labels"))
# (column, directory prefix, results file, metric key)
COLUMNS = (("sentiment acc", "sentiment", "predict_results.txt", "accuracy"),
           ("NER F1", "ner", "eval_results.txt", "f1"))


def collect(out, seeds):
  """{init: {column: [value per seed]}} and {variant: {head: accuracy}}."""
  scores = {}
  for init, _ in INITS:
    scores[init] = {}
    for column, prefix, name, key in COLUMNS:
      values = []
      for seed in seeds:
        path = os.path.join(out, "%s_%s" % (prefix, init), "seed_%d" % seed, name)
        if not os.path.exists(path):
          raise errors.UserError("%s is missing: did that fine-tuning run?" % path)
        results = read_numbers(path)
        if key not in results:
          raise errors.UserError("%s has no %s" % (path, key))
        values.append(results[key])
      scores[init][column] = values
  pretraining = {}
  for init, _ in INITS[1:]:
    path = os.path.join(out, "pretrain_%s" % init, "eval_results.txt")
    results = read_numbers(path)
    pretraining[init] = {key[:-len("_accuracy")]: value for key, value in results.items()
                         if key.endswith("_accuracy") and key != "masked_lm_accuracy"}
  return scores, pretraining


def table(scores, pretraining, seeds):
  lines = ["%-34s %16s %16s   %s" % ("initialisation", COLUMNS[0][0], COLUMNS[1][0],
                                      "pretraining acc. on its records (MLM/POS/NER)")]
  for init, title in INITS:
    cells = [max_avg(scores[init][column]) for column, _, _, _ in COLUMNS]
    heads = pretraining.get(init)
    head_text = "-" if heads is None else " / ".join(
        "%.1f" % (100 * heads[h]) if h in heads else "off" for h in ("mlm", "pos", "ner"))
    lines.append("%-34s %16s %16s   %s" % (title, cells[0], cells[1], head_text))
  lines.append("max (avg) over seeds %s; sentiment: held-out test accuracy (%%), NER: "
               "test entity F1 (%%)" % ",".join(str(s) for s in seeds))
  return "\n".join(lines)


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--seeds", required=True)
  parser.add_argument("--seconds", type=int, required=True)
  parser.add_argument("--settings", default="")
  args = parser.parse_args(argv)
  seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
  scores, pretraining = collect(args.output_dir, seeds)
  print(table(scores, pretraining, seeds))
  if args.settings:
    print("Settings: %s" % args.settings)
  print("Wall time: %d s (%.1f min)" % (args.seconds, args.seconds / 60.0))
  summary = {"seeds": seeds, "settings": args.settings, "wall_seconds": args.seconds,
             "scores": scores, "pretraining_accuracy": pretraining}
  with io.open(os.path.join(args.output_dir, "summary.json"), "w",
               encoding="utf-8") as writer:
    json.dump(summary, writer, indent=2, ensure_ascii=False)
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
