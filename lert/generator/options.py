# coding=utf-8
"""The generator's settings: one table, the Options of a run, and their checks.

SETTINGS (lert.settings.Setting rows) is the only place a generator setting
is defined: the defaults of `Options`, the absl flags (`define_flags`) and
reading them back (`options_from_flags`) all come from it. A run's `Options`
is what every stage reads; `validate_options` refuses settings that cannot
work, before any work starts.

Google's `--preserve_unused_tokens` is defined by tokenization.py (Google's
API, on absl's global FLAGS), not here: the command reads it and passes it
in (Options.preserve_unused_tokens), and it is refused, since the annotators'
segmentation takes `[unusedN]` apart before tokenization.
"""

import collections
import os

import lert
from lert import errors
from lert import fileio
from lert import settings
from lert.generator import annotation_types

STAGES = ("annotate", "build", "all", "finalize")
Setting = settings.Setting


def _enum(values):
  return "enum:" + ",".join(values)


SETTINGS = (
    Setting("stage", _enum(STAGES), "all",
            "annotate: text -> annotation cache; build: cache -> TFRecords; all: "
            "both; finalize: after several hosts, check every shard and write the "
            "sidecar."),
    Setting("input_file", "string", "", "Input text files, comma-separated globs."),
    Setting("input_format", _enum(annotation_types.INPUT_FORMATS), "sentence_per_line",
            "sentence_per_line: BERT's (blank line between documents); doc_per_line: "
            "a document a line; wikiextractor: <doc> blocks, a paragraph a line; with "
            "annotations (for --annotator=preannotated): people_daily (PKU word/TAG), "
            "ltp_jsonl (LTP's pipeline output, a sentence a line)."),
    Setting("cache_dir", "string", "",
            "Annotation cache directory (default for --stage=all: "
            "<output_dir>/.annotations)."),
    Setting("output_dir", "string", "", "Directory for the TFRecord shards and lert_data.json."),
    Setting("output_file", "string", "",
            "Google's output: comma-separated TFRecord files, filled as Google's "
            "script fills them (instances shuffled, instance i into file i mod n), "
            "each with <file>.json; instead of --output_dir."),
    Setting("vocab_file", "string", lert.DEFAULT_VOCAB_FILE,
            "WordPiece vocabulary (default: the repository's vocab.txt)."),
    Setting("do_lower_case", "bool", True, "Lower-case and strip accents (True for LERT)."),
    Setting("do_whole_word_mask", "bool", True,
            "Google's flag. Whole words (and N-grams of them) are the only masking "
            "here, so it is True (Google's default is False) and False is refused."),
    Setting("max_seq_length", "integer", 128, "Tokens per instance, [CLS] and [SEP] included."),
    Setting("max_predictions_per_seq", "integer", 20,
            "Most masked tokens per instance (75 at 512, 20 at 128)."),
    Setting("random_seed", "integer", 12345,
            "Seed of every random choice (with the shard number)."),
    Setting("dupe_factor", "integer", 10, "Times each document is masked (different masks)."),
    Setting("masked_lm_prob", "float", 0.15, "Share of tokens to predict."),
    Setting("short_seq_prob", "float", 0.1, "Probability of a shorter, random target length."),
    # Lists are absl's: strings here, numbers in Options.
    Setting("ngram_probs", "list", ["0.4", "0.3", "0.2", "0.1"],
            "Weights of masking 1..N whole words at once (MacBERT's 0.4,0.3,0.2,0.1)."),
    Setting("replacement_probs", "list", ["0.8", "0.1", "0.1"],
            "Probabilities that a masked token becomes [MASK], a random token, or "
            "stays (sum 1)."),
    Setting("annotator", "string", "jieba",
            "jieba (offline, POS+NER), ltp (POS+NER+DEP), preannotated (the input's "
            "own: people_daily POS+NER, ltp_jsonl POS+NER+DEP), or a "
            "package.module.Class implementing annotators.Annotator."),
    Setting("ltp_model", "string", "", "LTP 4 model: a local directory or a hub name (LTP/small)."),
    Setting("ltp_batch_size", "integer", 32, "Sentences per LTP batch."),
    Setting("ltp_device", "string", "", "torch device for LTP (default: cuda when available)."),
    Setting("sentence_splitter", _enum(annotation_types.SPLITTERS), "auto",
            "For doc_per_line/wikiextractor: ltp (StnSplit), rules, or auto (ltp "
            "when installed)."),
    Setting("num_workers", "integer", 1,
            "Worker processes (each takes whole shards); with --runner, Beam's "
            "--num_workers (and the DirectRunner's processes)."),
    Setting("runner", "string", "",
            "Run the stages as an Apache Beam pipeline on this runner (DirectRunner, "
            "PrismRunner, DataflowRunner, FlinkRunner, SparkRunner, ...); Beam's "
            "pipeline options follow on the command line. Empty: this machine's "
            "worker processes (no Beam needed)."),
    Setting("shard_size_mb", "float", 1.0,
            "Input megabytes per shard: the unit of work, resume and shuffling; "
            "memory per worker grows with it."),
    Setting("num_hosts", "integer", 1,
            "Machines sharing the run: each annotates and builds the shards k with k "
            "mod num_hosts == host_index into the shared directories; then "
            "--stage=finalize once."),
    Setting("host_index", "integer", 0, "This machine's number, 0 .. num_hosts-1."),
)
_NUMBER_LISTS = ("ngram_probs", "replacement_probs")


class Options(object):
  """Every setting of a run; main() fills it from flags, tests build it directly."""

  DEFAULTS = collections.OrderedDict(
      [(s.name, s.default) for s in SETTINGS] + [("preserve_unused_tokens", False)])

  def __init__(self, **kwargs):
    unknown = sorted(set(kwargs) - set(self.DEFAULTS))
    if unknown:
      raise TypeError("unknown option(s): %s" % ", ".join(unknown))
    for name, default in self.DEFAULTS.items():
      setattr(self, name, kwargs.get(name, default))
    for name in _NUMBER_LISTS:
      setattr(self, name, tuple(float(p) for p in getattr(self, name)))

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
  """Raises a UserError for settings that cannot work (before any work starts)."""
  def need(condition, message):
    if not condition:
      raise errors.UserError(message)
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
  need(not options.runner or options.num_hosts == 1,
       "--runner=%s spreads the shards over the runner's workers: leave out "
       "--num_hosts and --host_index" % options.runner)
  need(not options.runner or options.stage != "finalize",
       "--stage=finalize is the last step of a --runner pipeline already: leave "
       "out --runner (finalize is a cheap step on one machine)")
  need(options.num_hosts == 1 or options.stage != "finalize",
       "--stage=finalize runs once, on one host: leave out --num_hosts and "
       "--host_index")
  need(options.input_format in annotation_types.INPUT_FORMATS, "--input_format must be one of "
       "%s, got %r" % (", ".join(annotation_types.INPUT_FORMATS), options.input_format))
  need(options.sentence_splitter in annotation_types.SPLITTERS,
       "--sentence_splitter must be one of %s, got %r" %
       (", ".join(annotation_types.SPLITTERS), options.sentence_splitter))
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


def define_flags(flag_values=None):
  """Defines the generator's flags (on absl's global FLAGS unless given others).

  Not done at import, so other scripts can import the generator for its
  library functions without their flags colliding.
  """
  from absl import flags
  fv = flag_values if flag_values is not None else flags.FLAGS
  return settings.define_flags(fv, SETTINGS)


def options_from_flags(flag_values, preserve_unused_tokens=False):
  """Options from parsed flags (and Google's --preserve_unused_tokens, which
  tokenization defines); a UserError for values that do not parse."""
  values = settings.read_flags(flag_values, SETTINGS)
  for name in _NUMBER_LISTS:
    try:
      values[name] = tuple(float(v) for v in values[name])
    except ValueError:
      raise errors.UserError("--%s must be comma-separated numbers, got %s" %
                             (name, ",".join(values[name])))
  return Options(preserve_unused_tokens=preserve_unused_tokens, **values)
