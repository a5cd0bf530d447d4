"""Scores an annotator's linguistic labels against gold annotations.

The gold file is JSON lines {"words": [...], "pos": [...], "entities":
[[type, first_word, last_word], ...]} (as scripts/prepare_demo_data.py writes
for People's Daily 1998, PKU tags).  Gold tags are mapped into LTP's set
(linguistics.PKU_TO_LTP_POS) and both sides are turned into the per-character
labels that LERT trains on (linguistics.character_labels), so the figures say
how good the pretraining signal is:

  segmentation  word precision / recall / F1 (words as character spans)
  POS           per-character accuracy in LTP's tag set (28 tags)
  NER           per-character BIES accuracy, and entity precision / recall / F1

  python scripts/score_annotator.py --gold demo_output/data/people_daily_199801.gold.jsonl \
      --annotator jieba [--max_sentences 2000]
"""

import argparse
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lert.generator import annotators  # noqa: E402
from lert import linguistics  # noqa: E402


def word_spans(words):
  spans, start = set(), 0
  for word in words:
    spans.add((start, start + len(word)))
    start += len(word)
  return spans


def entity_spans(words, entities, mapper):
  starts = [0]
  for word in words:
    starts.append(starts[-1] + len(word))
  spans = set()
  for entity_type, first, last in entities:
    mapped = mapper.entity_type(entity_type)
    if mapped:
      spans.add((starts[first], starts[last + 1], mapped))
  return spans


def f1(correct, predicted, gold):
  precision = correct / float(predicted) if predicted else 0.0
  recall = correct / float(gold) if gold else 0.0
  score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
  return precision, recall, score


def score(gold_records, predictions):
  """Agreement figures of `predictions` (SentenceAnnotation) with `gold_records`."""
  gold_mapper = linguistics.TagMapper(pos_table=linguistics.PKU_TO_LTP_POS)
  mapper = linguistics.TagMapper()
  counts = dict.fromkeys(["chars", "pos_ok", "ner_ok", "seg_ok", "seg_pred",
                          "seg_gold", "ent_ok", "ent_pred", "ent_gold"], 0)
  for gold, predicted in zip(gold_records, predictions):
    if "".join(predicted.words) != "".join(gold["words"]):
      raise ValueError("annotator changed the text of %r" % "".join(gold["words"]))
    gold_labels = linguistics.character_labels(
        gold["words"], gold["pos"], None, gold["entities"], gold_mapper)
    labels = linguistics.character_labels(
        predicted.words, predicted.pos, None, predicted.entities, mapper)
    counts["chars"] += len(gold_labels["pos"])
    counts["pos_ok"] += sum(a == b for a, b in zip(gold_labels["pos"], labels["pos"]))
    counts["ner_ok"] += sum(a == b for a, b in zip(gold_labels["ner"], labels["ner"]))
    gold_words, words = word_spans(gold["words"]), word_spans(predicted.words)
    counts["seg_ok"] += len(gold_words & words)
    counts["seg_pred"] += len(words)
    counts["seg_gold"] += len(gold_words)
    gold_entities = entity_spans(gold["words"], gold["entities"], gold_mapper)
    entities = entity_spans(predicted.words, predicted.entities, mapper)
    counts["ent_ok"] += len(gold_entities & entities)
    counts["ent_pred"] += len(entities)
    counts["ent_gold"] += len(gold_entities)
  seg = f1(counts["seg_ok"], counts["seg_pred"], counts["seg_gold"])
  ent = f1(counts["ent_ok"], counts["ent_pred"], counts["ent_gold"])
  return {
      "sentences": len(gold_records), "characters": counts["chars"],
      "segmentation_precision": seg[0], "segmentation_recall": seg[1],
      "segmentation_f1": seg[2],
      "pos_char_accuracy": counts["pos_ok"] / float(max(counts["chars"], 1)),
      "ner_char_accuracy": counts["ner_ok"] / float(max(counts["chars"], 1)),
      "entity_precision": ent[0], "entity_recall": ent[1], "entity_f1": ent[2],
      "gold_tags_mapped": gold_mapper.report()["pos"],
  }


def read_gold(path, max_sentences):
  records = []
  with io.open(path, encoding="utf-8") as reader:
    for line_number, line in enumerate(reader, 1):
      if max_sentences and len(records) >= max_sentences:
        break
      try:
        record = json.loads(line)
        if len(record["words"]) != len(record["pos"]):
          raise ValueError("%d words but %d tags" % (len(record["words"]),
                                                      len(record["pos"])))
      except (ValueError, KeyError) as e:
        raise ValueError("%s:%d: bad gold record (%s)" % (path, line_number, e))
      if record["words"]:
        records.append(record)
  return records


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gold", required=True)
  parser.add_argument("--annotator", default="jieba")
  parser.add_argument("--ltp_model", default=None, help="for --annotator=ltp")
  parser.add_argument("--max_sentences", type=int, default=0)
  parser.add_argument("--output_json", default=None)
  args = parser.parse_args()
  gold = read_gold(args.gold, args.max_sentences)
  options = {"ltp_model": args.ltp_model} if args.ltp_model else {}
  annotator = annotators.create_annotator(args.annotator, options)
  predictions = annotator.annotate(["".join(r["words"]) for r in gold])
  result = score(gold, predictions)
  print("Annotator %r against People's Daily gold (%d sentences, %d characters), "
        "gold mapped PKU -> LTP:" % (args.annotator, result["sentences"],
                                     result["characters"]))
  print("  %-28s %6.2f" % ("word segmentation F1", 100 * result["segmentation_f1"]))
  print("  %-28s %6.2f" % ("POS accuracy (per char)", 100 * result["pos_char_accuracy"]))
  print("  %-28s %6.2f" % ("NER BIES accuracy (per char)",
                           100 * result["ner_char_accuracy"]))
  print("  %-28s %6.2f  (P %.2f, R %.2f)" % (
      "NER entity F1", 100 * result["entity_f1"], 100 * result["entity_precision"],
      100 * result["entity_recall"]))
  if args.output_json:
    with io.open(args.output_json, "w", encoding="utf-8") as writer:
      json.dump(result, writer, indent=2, ensure_ascii=False)


if __name__ == "__main__":
  main()
