# coding=utf-8
"""Creates LERT pretraining data: annotate once, then mask many times.

Two stages (`--stage=annotate|build|all`), each sharded and resumable:

1. annotate: raw text -> annotation cache (`--cache_dir`). The input is cut into
   shards of about `--shard_size_mb` at document boundaries; every shard is read,
   cleaned, split into sentences (corpus_reader.py), annotated
   (`--annotator=jieba|ltp`, annotators.py; or `--annotator=preannotated`
   with `--input_format=people_daily|ltp_jsonl`, whose annotation the input
   carries: preannotated.py) and stored as JSON lines, one document a line
   (annotation_cache.py). This is the expensive step (LTP on
   GPUs at corpus scale).
2. build: cache -> TFRecords (`--output_dir`), one output shard per cache shard.
   Each document is tokenized once, then `--dupe_factor` times cut into
   instances and masked with different random choices (instance_builder.py:
   labels per token, whole-word and N-gram masking, no NSP).

Output: `pretraining-SSSSS-of-NNNNN.tfrecord` of tf.train.Examples
(record_schema.PRETRAINING, written by record_codec.py, so that no process of
the generator imports TensorFlow), instances shuffled within a shard, and
`lert_data.json`, the sidecar read by run_pretraining.py: annotator,
labelled_tasks, inventories, lengths, flags, statistics, mapped tags
(data_stats.py). An annotator that does not label a task (jieba: DEP)
writes 0 for it; the sidecar's `labelled_tasks` says so and training must give
that head zero weight.

Google's command line works unchanged: its flags keep their meanings, and
`--output_file=x.tfrecord,y.tfrecord` (instead of `--output_dir`) fills the
files as Google's script does, each with a sidecar `<file>.json`
(output_merge.py); `--do_whole_word_mask` is True here (whole words are the
only masking) and False is refused.

Many hosts: `--num_hosts=N --host_index=i` makes a host annotate and/or build
only the shards k with k mod N == i, in directories the hosts share; then
`--stage=finalize`, run once anywhere with the same flags, checks that every
shard is built and writes the sidecar (and the --output_file files). The
bytes are those of a one-host run.

Scale and safety (shard_jobs.py, job_runner.py): `--num_workers`
processes work on whole shards; the output is byte-identical whatever the
number of workers. Files are written under a temporary name and renamed; a
re-run after an interruption redoes only unfinished shards (one run per
directory at a time). Memory per worker is bounded by one shard (its
instances are shuffled in memory), not by the corpus. Progress with rate and
ETA goes to stderr, and a statistics report at the end.

Every path may be local or remote (`gs://`, any tf.io.gfile scheme; fileio.py).

This script holds the options, their checks, the flags and the run's order.
"""

import collections
import os
import time

from lert.generator import annotators
from lert.generator import corpus_reader
from lert import errors
from lert import fileio
from lert.generator import shard_jobs
from lert.generator import output_merge
from lert.generator import job_runner
from lert.generator import data_stats
from lert.fileio import DataError

STAGES = ("annotate", "build", "all", "finalize")
DEFAULT_VOCAB_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                  "vocab.txt")


# --- Options -----------------------------------------------------------------------


class Options(object):
  """Every setting of a run; main() fills it from flags, tests build it directly."""

  DEFAULTS = collections.OrderedDict([
      ("stage", "all"),
      ("input_file", ""),
      ("input_format", "sentence_per_line"),
      ("cache_dir", ""),
      ("output_dir", ""),
      ("output_file", ""),
      ("vocab_file", DEFAULT_VOCAB_FILE),
      ("do_lower_case", True),
      # Google's flag; whole words are the only masking here, so False is refused.
      ("do_whole_word_mask", True),
      # Google's flag, defined by tokenization (so not in define_flags); refused here.
      ("preserve_unused_tokens", False),
      ("max_seq_length", 128),
      ("max_predictions_per_seq", 20),
      ("random_seed", 12345),
      ("dupe_factor", 10),
      ("masked_lm_prob", 0.15),
      ("short_seq_prob", 0.1),
      ("ngram_probs", (0.4, 0.3, 0.2, 0.1)),
      ("replacement_probs", (0.8, 0.1, 0.1)),
      ("annotator", "jieba"),
      ("ltp_model", ""),
      ("ltp_batch_size", 32),
      ("ltp_device", ""),
      ("sentence_splitter", "auto"),
      ("num_workers", 1),
      ("shard_size_mb", 1.0),
      ("num_hosts", 1),
      ("host_index", 0),
  ])

  def __init__(self, **kwargs):
    unknown = sorted(set(kwargs) - set(self.DEFAULTS))
    if unknown:
      raise TypeError("unknown option(s): %s" % ", ".join(unknown))
    for name, default in self.DEFAULTS.items():
      setattr(self, name, kwargs.get(name, default))
    self.ngram_probs = tuple(float(p) for p in self.ngram_probs)
    self.replacement_probs = tuple(float(p) for p in self.replacement_probs)

  def annotator_options(self):
    # The input format: the preannotated annotator's tasks depend on it.
    return {"ltp_model": self.ltp_model, "ltp_batch_size": self.ltp_batch_size,
            "ltp_device": self.ltp_device or None, "input_format": self.input_format}

  def output_files(self):
    """Google's --output_file: the comma-separated list of files to fill."""
    return [path.strip() for path in self.output_file.split(",") if path.strip()]

  def resolved_output_dir(self):
    """Where the shards are built: --output_dir, or for --output_file a work
    directory beside its first file (`.<name>.lert-work`, hidden from globs)."""
    if self.output_dir or not self.output_files():
      return self.output_dir
    head, tail = os.path.split(self.output_files()[0])
    return os.path.join(head, ".%s.lert-work" % tail)

  def resolved_cache_dir(self):
    """--cache_dir, or `<output dir>/.annotations` (see resolved_output_dir)."""
    if self.cache_dir:
      return self.cache_dir
    return os.path.join(self.resolved_output_dir(), ".annotations")

  def owns_shard(self, index):
    """Is shard `index` this host's (--num_hosts, --host_index)?"""
    return index % self.num_hosts == self.host_index


def validate_options(options):
  """Raises DataError for settings that cannot work (before any work starts)."""
  def need(condition, message):
    if not condition:
      raise DataError(message)
  # The annotator's words are tokenized, and its segmentation takes "[unusedN]"
  # apart, so the flag could not keep Google's meaning: refuse rather than ignore it.
  need(not options.preserve_unused_tokens,
       "--preserve_unused_tokens is not supported by this generator: jieba/LTP "
       "segmentation splits [unusedN] into pieces before tokenization")
  need(options.stage in STAGES, "--stage must be one of %s, got %r" %
       (", ".join(STAGES), options.stage))
  # Google's flag: only its True keeps its meaning (LERT's labels are per word).
  need(options.do_whole_word_mask, "--do_whole_word_mask=False is not supported: "
       "this generator always masks whole words (and N-grams of them, "
       "--ngram_probs; --ngram_probs=1 masks single whole words as Google's "
       "--do_whole_word_mask=True does)")
  outputs = options.output_files()
  need(not (outputs and options.output_dir), "give --output_dir (sharded output) "
       "or --output_file (Google's list of files), not both")
  need(len(set(outputs)) == len(outputs), "--output_file names a file twice: %s" %
       options.output_file)
  need(options.num_hosts >= 1, "--num_hosts must be >= 1, got %d" %
       options.num_hosts)
  need(0 <= options.host_index < options.num_hosts, "--host_index must be in "
       "[0, --num_hosts=%d), got %d" % (options.num_hosts, options.host_index))
  need(options.num_hosts == 1 or options.stage != "finalize",
       "--stage=finalize runs once, on one host: leave out --num_hosts and "
       "--host_index")
  need(options.input_format in corpus_reader.INPUT_FORMATS, "--input_format must be one of "
       "%s, got %r" % (", ".join(corpus_reader.INPUT_FORMATS), options.input_format))
  need(options.sentence_splitter in annotators.SPLITTERS,
       "--sentence_splitter must be one of %s, got %r" %
       (", ".join(annotators.SPLITTERS), options.sentence_splitter))
  if options.stage in ("annotate", "all"):
    need(options.input_file, "--input_file is required for --stage=%s" % options.stage)
  if options.stage in ("annotate", "build"):
    need(options.cache_dir, "--cache_dir is required for --stage=%s" % options.stage)
  if options.stage in ("build", "all", "finalize"):
    need(options.resolved_output_dir(), "--output_dir or --output_file is "
         "required for --stage=%s" % options.stage)
    need(options.vocab_file, "--vocab_file is required for --stage=%s" % options.stage)
    need(fileio.isfile(options.vocab_file),
         "--vocab_file %s: no such file" % options.vocab_file)
  need(options.max_seq_length >= 3, "--max_seq_length must be >= 3 ([CLS], a "
       "token, [SEP]), got %d" % options.max_seq_length)
  need(options.max_predictions_per_seq >= 1,
       "--max_predictions_per_seq must be >= 1, got %d" %
       options.max_predictions_per_seq)
  need(options.dupe_factor >= 1, "--dupe_factor must be >= 1, got %d" %
       options.dupe_factor)
  need(0.0 < options.masked_lm_prob <= 1.0, "--masked_lm_prob must be in (0, 1], "
       "got %s" % options.masked_lm_prob)
  need(0.0 <= options.short_seq_prob <= 1.0, "--short_seq_prob must be in "
       "[0, 1], got %s" % options.short_seq_prob)
  need(options.ngram_probs and all(p >= 0 for p in options.ngram_probs) and
       sum(options.ngram_probs) > 0, "--ngram_probs must be non-negative "
       "weights of 1..N-grams with a positive sum, got %r" % (options.ngram_probs,))
  need(len(options.replacement_probs) == 3 and
       all(p >= 0 for p in options.replacement_probs) and
       abs(sum(options.replacement_probs) - 1.0) < 1e-6,
       "--replacement_probs must be three probabilities (mask, random, keep) "
       "summing to 1, got %r" % (options.replacement_probs,))
  need(options.num_workers >= 1, "--num_workers must be >= 1, got %d" %
       options.num_workers)
  need(options.shard_size_mb > 0, "--shard_size_mb must be > 0, got %s" %
       options.shard_size_mb)
  need(options.ltp_batch_size >= 1, "--ltp_batch_size must be >= 1, got %d" %
       options.ltp_batch_size)


def _log_throughput(label, jobs, results, elapsed):
  processed = sum(job["bytes"] for job in jobs)
  peaks = [r["peak_rss_mb"] for r in results if r.get("peak_rss_mb")]
  own_peak = shard_jobs.peak_rss_mb()
  fileio.log(
      "%s: %.2f MB of input in %.1f s (%.2f MB/s); peak RSS %s MB per worker, "
      "%s MB in this process" % (
          label, processed / 1e6, elapsed, processed / 1e6 / max(elapsed, 1e-6),
          ("%.0f" % max(peaks)) if peaks else "?",
          ("%.0f" % own_peak) if own_peak is not None else "?"))


def _finish(options, manifest, identity):
  """After the last shard: the sidecar, and Google's files for --output_file."""
  sidecar = data_stats.make_sidecar(options, manifest, identity)
  if options.output_files():
    sidecar = output_merge.fill_output_files(options, sidecar)
  else:
    data_stats.write_sidecar(options.output_dir, sidecar)
  fileio.log(data_stats.format_report(sidecar))
  return sidecar


def run(options):
  """Runs the stage(s) `options` asks for; returns the sidecar, or None where
  this run does not write one (--stage=annotate, one host of several)."""
  validate_options(options)
  started = time.time()
  output_dir = options.resolved_output_dir()
  if options.stage in ("annotate", "all"):  # bad input fails first
    corpus_reader.check_input_files(
        corpus_reader.expand_input_patterns(options.input_file))
  if options.stage in ("build", "all", "finalize"):
    fileio.ensure_writable_dir(output_dir, "output_dir")
    for path in options.output_files():
      fileio.ensure_parent_dir(path, "output_file")
  manifest = shard_jobs.prepare_cache(options)
  cache_dir = options.resolved_cache_dir()
  if options.stage in ("build", "finalize") and options.input_file:
    fileio.log(
        "note: --input_file is not used by --stage=%s; the inputs are those "
        "the cache was annotated from (%s)" %
        (options.stage, os.path.join(cache_dir, shard_jobs.MANIFEST)))
  # Several hosts share these directories: each removes only its own leftovers.
  owns = options.owns_shard if options.num_hosts > 1 else None
  fileio.remove_stale_temporaries(cache_dir, owns)
  identity = None
  if options.stage != "annotate":
    fileio.remove_stale_temporaries(output_dir, owns)
    identity = shard_jobs.build_identity(options, manifest)
    shard_jobs.check_build_config(options, identity)
  jobs = shard_jobs.make_jobs(options, manifest)
  if options.stage == "finalize":
    if jobs:
      raise DataError(
          "--stage=finalize: %d of the %d shards are not built in %s (%s): run "
          "--stage=build (or all) for them first; shard k is built by "
          "--host_index=k mod --num_hosts" % (
              len(jobs), len(manifest["shards"]), output_dir, ", ".join(
                  os.path.basename(job["output_file"]) for job in jobs[:5])))
    return _finish(options, manifest, identity)
  label = {"annotate": "annotate", "build": "build", "all": "annotate+build"}[
      options.stage]
  owned = sum(1 for index in range(len(manifest["shards"]))
              if options.owns_shard(index))
  fileio.log("%s: %d shard(s)%s, %d already done, %d to do, %d worker(s)" % (
      label, owned, "" if options.num_hosts == 1 else " of %d on host %d of %d" % (
          len(manifest["shards"]), options.host_index, options.num_hosts),
      owned - len(jobs), len(jobs), options.num_workers))
  worker_config = {
      "options": options,
      "annotator": options.annotator,
      "annotator_options": options.annotator_options(),
      "sentence_splitter": manifest["sentence_splitter"],
      "labelled_tasks": manifest["annotator"]["labelled_tasks"],
  }
  try:
    results = job_runner.execute_jobs(jobs, worker_config,
                                            options.num_workers, label)
  except OSError as e:
    raise DataError(str(e))
  _log_throughput(label, jobs, results, time.time() - started)
  if options.stage == "annotate":
    return None
  if options.num_hosts > 1:
    fileio.log("host %d of %d: its shards are built; once every host is "
                     "done, run --stage=finalize once (same flags, no "
                     "--num_hosts/--host_index)" % (options.host_index,
                                                   options.num_hosts))
    return None
  return _finish(options, manifest, identity)


# --- Command line ---------------------------------------------------------------------------


def define_flags(flag_values=None):
  """Defines this script's flags (on absl's global FLAGS unless given others).

  Not done at import, so other scripts can import this module for its library
  functions without their flags colliding.
  """
  from absl import flags
  fv = flag_values if flag_values is not None else flags.FLAGS
  d = Options.DEFAULTS
  flags.DEFINE_enum("stage", d["stage"], list(STAGES),
                    "annotate: text -> annotation cache; build: cache -> "
                    "TFRecords; all: both; finalize: after several hosts, check "
                    "every shard and write the sidecar.", flag_values=fv)
  flags.DEFINE_string("input_file", d["input_file"],
                      "Input text files, comma-separated globs.", flag_values=fv)
  flags.DEFINE_enum("input_format", d["input_format"], list(corpus_reader.INPUT_FORMATS),
                    "sentence_per_line: BERT's (blank line between documents); "
                    "doc_per_line: a document a line; wikiextractor: <doc> "
                    "blocks, a paragraph a line; with annotations (for "
                    "--annotator=preannotated): people_daily (PKU word/TAG), "
                    "ltp_jsonl (LTP's pipeline output, a sentence a line).",
                    flag_values=fv)
  flags.DEFINE_string("cache_dir", d["cache_dir"],
                      "Annotation cache directory (default for --stage=all: "
                      "<output_dir>/.annotations).", flag_values=fv)
  flags.DEFINE_string("output_dir", d["output_dir"],
                      "Directory for the TFRecord shards and lert_data.json.",
                      flag_values=fv)
  flags.DEFINE_string("output_file", d["output_file"],
                      "Google's output: comma-separated TFRecord files, filled "
                      "as Google's script fills them (instances shuffled, "
                      "instance i into file i mod n), each with <file>.json; "
                      "instead of --output_dir.", flag_values=fv)
  flags.DEFINE_string("vocab_file", d["vocab_file"],
                      "WordPiece vocabulary (default: the repository's vocab.txt).",
                      flag_values=fv)
  flags.DEFINE_bool("do_lower_case", d["do_lower_case"],
                    "Lower-case and strip accents (True for LERT).", flag_values=fv)
  flags.DEFINE_bool("do_whole_word_mask", d["do_whole_word_mask"],
                    "Google's flag. Whole words (and N-grams of them) are the "
                    "only masking here, so it is True (Google's default is "
                    "False) and False is refused.", flag_values=fv)
  flags.DEFINE_integer("max_seq_length", d["max_seq_length"],
                       "Tokens per instance, [CLS] and [SEP] included.",
                       flag_values=fv)
  flags.DEFINE_integer("max_predictions_per_seq", d["max_predictions_per_seq"],
                       "Most masked tokens per instance (75 at 512, 20 at 128).",
                       flag_values=fv)
  flags.DEFINE_integer("random_seed", d["random_seed"], "Seed of every random "
                       "choice (with the shard number).", flag_values=fv)
  flags.DEFINE_integer("dupe_factor", d["dupe_factor"],
                       "Times each document is masked (different masks).",
                       flag_values=fv)
  flags.DEFINE_float("masked_lm_prob", d["masked_lm_prob"],
                     "Share of tokens to predict.", flag_values=fv)
  flags.DEFINE_float("short_seq_prob", d["short_seq_prob"],
                     "Probability of a shorter, random target length.",
                     flag_values=fv)
  flags.DEFINE_list("ngram_probs", [str(p) for p in d["ngram_probs"]],
                    "Weights of masking 1..N whole words at once (MacBERT's "
                    "0.4,0.3,0.2,0.1).", flag_values=fv)
  flags.DEFINE_list("replacement_probs", [str(p) for p in d["replacement_probs"]],
                    "Probabilities that a masked token becomes [MASK], a random "
                    "token, or stays (sum 1).", flag_values=fv)
  flags.DEFINE_string("annotator", d["annotator"],
                      "jieba (offline, POS+NER), ltp (POS+NER+DEP), "
                      "preannotated (the input's own: people_daily POS+NER, "
                      "ltp_jsonl POS+NER+DEP), or a "
                      "package.module.Class implementing annotators.Annotator.",
                      flag_values=fv)
  flags.DEFINE_string("ltp_model", d["ltp_model"],
                      "LTP 4 model: a local directory or a hub name (LTP/small).",
                      flag_values=fv)
  flags.DEFINE_integer("ltp_batch_size", d["ltp_batch_size"],
                       "Sentences per LTP batch.", flag_values=fv)
  flags.DEFINE_string("ltp_device", d["ltp_device"],
                      "torch device for LTP (default: cuda when available).",
                      flag_values=fv)
  flags.DEFINE_enum("sentence_splitter", d["sentence_splitter"],
                    list(annotators.SPLITTERS),
                    "For doc_per_line/wikiextractor: ltp (StnSplit), rules, or "
                    "auto (ltp when installed).", flag_values=fv)
  flags.DEFINE_integer("num_workers", d["num_workers"],
                       "Worker processes (each takes whole shards).",
                       flag_values=fv)
  flags.DEFINE_float("shard_size_mb", d["shard_size_mb"],
                     "Input megabytes per shard: the unit of work, resume and "
                     "shuffling; memory per worker grows with it.",
                     flag_values=fv)
  flags.DEFINE_integer("num_hosts", d["num_hosts"],
                       "Machines sharing the run: each annotates and builds "
                       "the shards k with k mod num_hosts == host_index into "
                       "the shared directories; then --stage=finalize once.",
                       flag_values=fv)
  flags.DEFINE_integer("host_index", d["host_index"],
                       "This machine's number, 0 .. num_hosts-1.", flag_values=fv)
  return fv


def options_from_flags(fv):
  """Options from parsed flags; DataError for values that do not parse."""
  values = {}
  for name in Options.DEFAULTS:
    if name not in fv:  # tokenization's flag lives on absl's global FLAGS only
      continue
    values[name] = getattr(fv, name)
  for name in ("ngram_probs", "replacement_probs"):
    try:
      values[name] = tuple(float(v) for v in values[name])
    except ValueError:
      raise DataError("--%s must be comma-separated numbers, got %s" %
                      (name, ",".join(values[name])))
  return Options(**values)


def main(argv):
  from absl import flags
  if len(argv) > 1:
    raise DataError("unexpected arguments: %s" % " ".join(argv[1:]))
  run(options_from_flags(flags.FLAGS))


if __name__ == "__main__":
  define_flags()
  errors.run_main(main)
