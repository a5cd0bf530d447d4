# coding=utf-8
"""The generator's statistics: the build stage's, the sidecar, the report.

The stages count per shard into `.progress/<shard>.json` (counters.py
declares the counters); the sidecar `lert_data.json` sums the shards'
statistics and lists every output shard with its integrity record
({"records", "bytes", "sha256"}, checked by pretraining_data.verify_dataset),
and the report at the end of a run is read from the sidecar, with the
file:line examples of bad input the counters kept.
"""

import os

from lert import fileio
from lert import linguistics
from lert.generator import counters
from lert.generator import instance_builder
from lert.generator import options as options_lib
from lert.generator import progress
from lert.records import record_schema
import tokenization

DATA_FORMAT = "lert-pretraining-data/2"


class BuildStatistics(counters.ShardStatistics):
  """The build stage's counters plus what its instances hold: N-gram lengths,
  replacements and the labels at masked positions."""

  def __init__(self, max_ngram, labelled_tasks):
    super(BuildStatistics, self).__init__(counters.BUILD_COUNTERS)
    self._ngrams = [0] * max_ngram
    self._fills = [0] * max_ngram
    self._replacements = [0, 0, 0]
    self._labels = {task: [0] * linguistics.num_labels(task)
                    for task in labelled_tasks}

  def add_instance(self, instance: instance_builder.Instance):
    counts = self.counts
    counts["instances"] += 1
    counts["tokens"] += instance.num_tokens
    counts["masked_tokens"] += len(instance.positions)
    for n in instance.ngram_lengths:
      self._ngrams[n - 1] += 1
    for n in instance.fill_lengths:
      self._fills[n - 1] += 1
    for k in range(3):
      self._replacements[k] += instance.replacements[k]
    for task, task_counts in self._labels.items():
      for label in getattr(instance, task):
        task_counts[label] += 1

  def finish(self, mapper):
    """Turns the distributions into tables; `mapper` holds the mapped tags."""
    self.tables["ngram_lengths"] = {str(n + 1): c for n, c in enumerate(self._ngrams)}
    self.tables["fill_ngram_lengths"] = {str(n + 1): c
                                         for n, c in enumerate(self._fills)}
    self.tables["replacements"] = dict(zip(("mask", "random", "keep"),
                                           self._replacements))
    self.tables["masked_label_counts"] = {
        task: {linguistics.LABELS[task][i]: c for i, c in enumerate(values) if c}
        for task, values in self._labels.items()}
    self.tables["mapped_tags"] = mapper.report()


# --- The sidecar ------------------------------------------------------------------------


def _read_progress_files(directory, names):
  """(summed statistics, {name: integrity record}) of finished shards."""
  total, shards = {}, {}
  for name in names:
    record = fileio.read_json(progress.progress_path(directory, name),
                              advice=progress.RESTART_ADVICE)
    counters.add_counts(total, record["statistics"])
    shards[name] = record["shard"]
  return total, shards


def _fraction(numerator, denominator):
  return round(float(numerator) / denominator, 6) if denominator else 0.0


def _add_shares(build):
  """The derived figures: masked fraction and N-gram length shares."""
  build["masked_fraction"] = _fraction(build.get("masked_tokens", 0),
                                       build.get("tokens", 0))
  ngrams = build.get("ngram_lengths", {})
  total_ngrams = sum(ngrams.values())
  build["ngram_length_shares"] = {n: _fraction(c, total_ngrams)
                                  for n, c in ngrams.items()}
  fills = build.get("fill_ngram_lengths", {})
  all_ngrams = total_ngrams + sum(fills.values())
  build["ngram_length_shares_with_fill"] = {
      n: _fraction(c + fills.get(n, 0), all_ngrams) for n, c in ngrams.items()}


def make_sidecar(options: options_lib.Options, manifest, identity):
  """The sidecar of the output shards, from every shard's statistics."""
  count = len(manifest["shards"])
  outputs = [record_schema.pretraining_shard_name(i, count) for i in range(count)]
  annotation, _ = _read_progress_files(
      options.resolved_cache_dir(), [shard["name"] for shard in manifest["shards"]])
  build, shards = _read_progress_files(options.resolved_output_dir(), outputs)
  description = manifest["annotator"]
  labelled = [task for task in linguistics.TASKS
              if task in description["labelled_tasks"]]
  mapped = build.pop("mapped_tags", {})
  # The annotators' own tag translations (jieba's, People's Daily's PKU tags).
  for table in ("jieba_pos_translated", "pku_pos_translated"):
    translated = annotation.pop(table, None)
    if translated:
      mapped[table] = translated
  _add_shares(build)
  sidecar = {
      "format": DATA_FORMAT,
      "files": outputs,
      "shards": shards,
      "num_instances": build.get("instances", 0),
      "annotator": description["name"],
      "annotator_config": description,
      "labelled_tasks": labelled,
      "unlabelled_tasks": [t for t in linguistics.TASKS if t not in labelled],
      "unlabelled_label_value": 0,
      "inventories": {task: list(linguistics.LABELS[task])
                      for task in linguistics.TASKS},
      "max_seq_length": options.max_seq_length,
      "max_predictions_per_seq": options.max_predictions_per_seq,
      "vocab_file": fileio.absolute(options.vocab_file),
      "vocab_size": len(tokenization.load_vocab(options.vocab_file)),
      "feature_spec": record_schema.PRETRAINING.sidecar_entry(
          max_seq_length=options.max_seq_length,
          max_predictions_per_seq=options.max_predictions_per_seq),
      "input": {"files": [entry["path"] for entry in manifest["inputs"]],
                "input_format": manifest["input_format"],
                "sentence_splitter": manifest["sentence_splitter"]},
      "statistics": {"annotation": annotation, "build": build},
      "mapped_tags": mapped,
  }
  for key in ("vocab_sha256", "do_lower_case", "random_seed", "dupe_factor",
              "masked_lm_prob", "short_seq_prob", "ngram_probs",
              "replacement_probs"):
    sidecar[key] = identity[key]
  return sidecar


def write_sidecar(output_dir, sidecar):
  """Writes `<output_dir>/lert_data.json`."""
  fileio.write_atomically(os.path.join(output_dir, record_schema.DIRECTORY_SIDECAR),
                          fileio.json_bytes(sidecar))


# --- The report -------------------------------------------------------------------------


def _top(counts, limit):
  return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def format_report(sidecar):
  """The human-readable statistics report of a finished run."""
  annotation = sidecar["statistics"]["annotation"]
  build = sidecar["statistics"]["build"]
  lines = ["statistics:"]
  lines.append("  annotator %s, labelled tasks %s, unlabelled (written as 0) %s" % (
      sidecar["annotator"], ",".join(sidecar["labelled_tasks"]),
      ",".join(sidecar["unlabelled_tasks"]) or "none"))
  lines.append("  documents %d, sentences %d, characters %d, input bytes %d" % (
      annotation.get("documents", 0), annotation.get("sentences", 0),
      annotation.get("characters", 0), annotation.get("input_bytes", 0)))
  lines.append("  instances %d, tokens %d, masked %d (%.2f%%)" % (
      build.get("instances", 0), build.get("tokens", 0),
      build.get("masked_tokens", 0), 100.0 * build.get("masked_fraction", 0.0)))
  for key, what in (("ngram_length_shares", "as drawn"),
                    ("ngram_length_shares_with_fill", "with the budget fill")):
    lines.append("  n-gram shares %s (words: share) %s" % (what, ", ".join(
        "%s: %.3f" % (n, share) for n, share in sorted(
            build.get(key, {}).items(), key=lambda kv: int(kv[0])))))
  replacements = build.get("replacements", {})
  total = float(max(1, sum(replacements.values())))
  lines.append("  replacements: [MASK] %.3f, random %.3f, kept %.3f" % tuple(
      replacements.get(k, 0) / total for k in ("mask", "random", "keep")))
  for task, counts in sorted(build.get("masked_label_counts", {}).items()):
    task_total = float(max(1, sum(counts.values())))
    lines.append("  %s at masked positions: %s" % (task, ", ".join(
        "%s %.3f" % (label, count / task_total) for label, count in _top(counts, 10))))
  for task, counts in sorted(sidecar.get("mapped_tags", {}).items()):
    if counts:
      lines.append("  mapped %s: %s" % (task, ", ".join(
          "%s %d" % kv for kv in _top(counts, 12))))
  for key, value in sorted(annotation.get("annotator_counts", {}).items()):
    lines.append("  %s %d" % (key, value))
  for stage, declared in ((annotation, counters.ANNOTATION_COUNTERS),
                           (build, counters.BUILD_COUNTERS)):
    for counter in declared:
      value = stage.get(counter.name, 0)
      if counter.problem and value:
        examples = stage.get(counter.examples, []) if counter.examples else []
        lines.append("  %s %d%s" % (counter.name, value, (" (e.g. %s)" % "; ".join(
            examples[:3])) if examples else ""))
  return "\n".join(lines)
