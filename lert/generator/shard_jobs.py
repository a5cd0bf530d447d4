# coding=utf-8
"""The generator's units of work: one Job per shard, and what a worker does.

The annotation cache's `manifest.json` fixes the shards (byte ranges of the
input files, cut at document boundaries) once, so the plan depends only on the
input and `--shard_size_mb`, never on the workers. A job annotates a shard
(input bytes -> cache shard) and/or builds it (cache shard -> TFRecords). Every
random choice of a shard comes from a seed derived from `--random_seed` and the
shard number: the output does not depend on the number of workers or their
order, nor on how many hosts share the shards (`--num_hosts`: a host makes
the jobs of the shards k with k mod num_hosts == host_index).

A part is done when its progress file `.progress/<shard>.json` exists:
  {"shard": integrity record, "statistics": {...}, "seconds": s}
(the build's also has "cache_sha256", the cache shard it was built from). It
is written after the shard itself, so a run that was stopped redoes only the
unfinished parts; a part whose shard file is missing, whose output no longer
has the size it was written with, or that was built from another cache shard,
is redone too. The integrity records are lines (records), bytes and sha256:
the build checks its cache shard against them, and the sidecar lists the
output shards' for pretraining_data.verify_dataset.
"""

import collections
import hashlib
import os
import random
import time

from lert import errors
from lert import fileio
from lert import linguistics
from lert.generator import annotation_cache
from lert.generator import annotators
from lert.generator import corpus_reader
from lert.generator import counters
from lert.generator import data_stats
from lert.generator import instance_builder
from lert.generator import options as options_lib
from lert.generator import preannotated
from lert.generator import progress
from lert.records import record_codec
from lert.records import record_schema
import tokenization

try:
  import resource
except ImportError:  # not on Windows; peak memory is then not reported
  resource = None

MANIFEST = "manifest.json"
BUILD_CONFIG = "build.json"
# Annotation cache shards are <stem>-SSSSS-of-NNNNN<suffix>; the manifest and
# the progress files name them without the suffix.
CACHE_SHARD_STEM = "annotations"
CACHE_SHARD_SUFFIX = ".jsonl"


def peak_rss_mb():
  if resource is None:
    return None
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def shard_seed(random_seed, shard_index):
  """A stable 64-bit seed of (random_seed, shard): independent of worker order."""
  digest = hashlib.sha256(b"lert-data:%d:%d" % (random_seed, shard_index)).digest()
  return int.from_bytes(digest[:8], "big")


# --- The plan ---------------------------------------------------------------------------


def _manifest_identity(options: options_lib.Options, files, description, splitter_name):
  return {
      "format": annotation_cache.CACHE_FORMAT,
      "annotator": description,
      "input_format": options.input_format,
      "sentence_splitter": splitter_name,
      "shard_size_mb": options.shard_size_mb,
      "inputs": [{"path": path, "size": fileio.getsize(path),
                  "mtime_ns": fileio.mtime_ns(path)} for path in files],
  }


def prepare_cache(options: options_lib.Options):
  """Validates the cache side and returns its manifest (planning shards if new)."""
  cache_dir = options.resolved_cache_dir()
  manifest_path = os.path.join(cache_dir, MANIFEST)
  if options.stage in ("build", "finalize"):
    if not fileio.isfile(manifest_path):
      raise errors.UserError("--cache_dir %s holds no annotation cache (%s is missing); "
                             "run --stage=annotate first" % (cache_dir, MANIFEST))
    return fileio.read_json(manifest_path, advice=progress.RESTART_ADVICE)
  files = corpus_reader.expand_input_patterns(options.input_file)
  description = annotators.annotator_class(options.annotator).describe(
      options.annotator_options())
  if options.input_format in preannotated.FORMAT_SPLITTING:
    splitter_name = preannotated.FORMAT_SPLITTING[options.input_format]
  else:
    splitter_name, _ = annotators.make_sentence_splitter(options.sentence_splitter)
  identity = _manifest_identity(options, files, description, splitter_name)
  progress.ensure_work_dir(cache_dir, "cache_dir")
  if fileio.isfile(manifest_path):
    manifest = fileio.read_json(manifest_path, advice=progress.RESTART_ADVICE)
    stored = {key: manifest.get(key) for key in identity}
    if stored != identity:
      differing = [key for key in identity if stored[key] != identity[key]]
      raise errors.UserError(
          "--cache_dir %s holds annotations made with other %s; use another "
          "--cache_dir (or delete it) to annotate again" %
          (cache_dir, ", ".join(differing)))
    return manifest
  shard_bytes = int(options.shard_size_mb * 1024 * 1024)
  plan = corpus_reader.plan_shards(files, options.input_format, shard_bytes)
  manifest = dict(identity)
  manifest["shards"] = [
      {"file": file_index, "start": start, "end": end, "first_line": first_line,
       "name": record_schema.shard_name(CACHE_SHARD_STEM, index, len(plan))}
      for index, (file_index, start, end, first_line) in enumerate(plan)]
  fileio.write_atomically(manifest_path, fileio.json_bytes(manifest))
  return manifest


def build_identity(options: options_lib.Options, manifest):
  """What makes an output directory's data what it is (checked on resume)."""
  return {
      "format": data_stats.DATA_FORMAT,
      "annotation_cache": {key: manifest[key] for key in (
          "annotator", "input_format", "sentence_splitter", "inputs",
          "shard_size_mb")},
      "vocab_sha256": fileio.file_sha256(options.vocab_file),
      "do_lower_case": bool(options.do_lower_case),
      "max_seq_length": options.max_seq_length,
      "max_predictions_per_seq": options.max_predictions_per_seq,
      "random_seed": options.random_seed,
      "dupe_factor": options.dupe_factor,
      "masked_lm_prob": options.masked_lm_prob,
      "short_seq_prob": options.short_seq_prob,
      "ngram_probs": list(options.ngram_probs),
      "replacement_probs": {"mask": options.replacement_probs[0],
                            "random": options.replacement_probs[1],
                            "keep": options.replacement_probs[2]},
  }


def check_build_config(options: options_lib.Options, identity):
  """Refuses an output directory made with other settings; records ours (a
  finalize, which builds nothing, needs a build to have recorded them)."""
  output_dir = options.resolved_output_dir()
  config_path = os.path.join(output_dir, progress.PROGRESS_DIR, BUILD_CONFIG)
  if not fileio.isfile(config_path):
    if options.stage == "finalize":
      raise errors.UserError("--stage=finalize: nothing was built in %s (%s is "
                             "missing); run --stage=build (or all) first" %
                             (output_dir, os.path.join(progress.PROGRESS_DIR,
                                                       BUILD_CONFIG)))
    fileio.write_atomically(config_path, fileio.json_bytes(identity))
    return
  stored = fileio.read_json(config_path, advice=progress.RESTART_ADVICE)
  if stored != identity:
    differing = sorted(k for k in identity if stored.get(k) != identity[k])
    where = ("--output_dir %s" % output_dir if options.output_dir else
             "the work directory %s of --output_file" % output_dir)
    raise errors.UserError("%s holds data made with other %s; use another directory "
                           "(or delete it)" % (where, ", ".join(differing)))


def _output_is_current(output_file, record, cache_record):
  """Was the output shard built from this cache shard and left as written?"""
  return (record is not None and cache_record is not None and
          record["cache_sha256"] == cache_record["shard"]["sha256"] and
          fileio.isfile(output_file) and
          fileio.getsize(output_file) == record["shard"]["bytes"])


Job = collections.namedtuple("Job", [
    "index", "input", "bytes", "input_format", "cache_file", "cache_done",
    "annotate", "build", "output_file", "output_done", "annotate_share",
    "build_base"])
Job.__doc__ = """The work on one shard (made by make_jobs, run by run_job).

  index           the shard's number (of the manifest's shards)
  input           (path, start byte, end byte, first line number) of its input
  bytes           end - start: the input bytes it covers (progress, rate)
  input_format    the cache's --input_format
  cache_file      its annotation cache shard (.jsonl)
  cache_done      the cache shard's progress file
  annotate        whether to annotate it (input -> cache shard)
  build           whether to build it (cache shard -> TFRecord shard)
  output_file     its TFRecord shard (None for --stage=annotate)
  output_done     the TFRecord shard's progress file (None for --stage=annotate)
  annotate_share  the share of the job's progress that annotation counts for
  build_base      the job's progress when the build starts
"""


def make_jobs(options: options_lib.Options, manifest):
  """One Job per shard of this host, for the parts not done yet (finalize: the
  shards whose output is missing or stale)."""
  cache_dir = options.resolved_cache_dir()
  output_dir = options.resolved_output_dir()
  jobs = []
  shards = manifest["shards"]
  for index, shard in enumerate(shards):
    if not options.owns_shard(index):
      continue
    cache_file = os.path.join(cache_dir, record_schema.shard_name(
        CACHE_SHARD_STEM, index, len(shards), suffix=CACHE_SHARD_SUFFIX))
    cache_done = progress.progress_path(cache_dir, shard["name"])
    cache_record = progress.read_progress(cache_done)
    if not fileio.isfile(cache_file):
      cache_record = None  # deleted, to be annotated again
    annotate = options.stage in ("annotate", "all") and not cache_record
    build, output_file, output_done = False, None, None
    if options.stage != "annotate":
      name = record_schema.pretraining_shard_name(index, len(shards))
      output_file = os.path.join(output_dir, name)
      output_done = progress.progress_path(output_dir, name)
      build = annotate or not _output_is_current(
          output_file, progress.read_progress(output_done), cache_record)
      if options.stage == "build" and not cache_record:
        raise errors.UserError(
            "the annotation cache in %s is incomplete (%s not annotated, or its "
            "shard file is missing); run --stage=annotate with the same "
            "--cache_dir first" % (cache_dir, shard["name"]))
    if annotate or build:
      path = manifest["inputs"][shard["file"]]["path"]
      jobs.append(Job(
          index=index, input=(path, shard["start"], shard["end"], shard["first_line"]),
          bytes=shard["end"] - shard["start"], input_format=manifest["input_format"],
          cache_file=cache_file, cache_done=cache_done, annotate=annotate,
          build=build, output_file=output_file, output_done=output_done,
          # Progress: annotation and building each count for half of a shard.
          annotate_share=0.5 if build else 1.0, build_base=0.5 if annotate else 0.0))
  return jobs


# --- The work ---------------------------------------------------------------------------


class WorkerConfig(collections.namedtuple("WorkerConfig", [
    "options", "annotator", "annotator_options", "sentence_splitter",
    "labelled_tasks"])):
  """What every worker of a run needs: the run's options_lib.Options, the
  annotator's name and options, the cache's sentence splitter and the tasks
  its annotator labels."""

  __slots__ = ()

  @classmethod
  def of_run(cls, options: options_lib.Options, manifest):
    """The workers' config of a run with `options` over the cache `manifest`."""
    return cls(options, options.annotator, options.annotator_options(),
               manifest["sentence_splitter"], manifest["annotator"]["labelled_tasks"])


class Worker(object):
  """Per-process state: built lazily, so a build-only worker never loads jieba.

  `config`: a WorkerConfig; `report(job, fraction)` takes progress.
  """

  def __init__(self, config, report=None):
    self.config = config
    self.report = report or (lambda job, fraction: None)
    self._annotator = None
    self._splitter = None
    self._build_tools = None

  def annotator(self):
    if self._annotator is None:
      self._annotator = annotators.create_annotator(
          self.config.annotator, self.config.annotator_options)
    return self._annotator

  def splitter(self):
    if self._splitter is None:
      _, self._splitter = annotators.make_sentence_splitter(
          self.config.sentence_splitter)
    return self._splitter

  def build_tools(self):
    """(tokenizer, instance builder, record encoder) of the run."""
    if self._build_tools is None:
      options = self.config.options
      tokenizer = tokenization.FullTokenizer(
          options.vocab_file, options.do_lower_case,
          preserve_unused_tokens=options.preserve_unused_tokens)
      encoder = record_codec.ExampleEncoder(
          record_schema.PRETRAINING, len(tokenizer.vocab),
          memoized=("input_mask", "segment_ids", "masked_lm_weights"),
          max_seq_length=options.max_seq_length,
          max_predictions_per_seq=options.max_predictions_per_seq)
      self._build_tools = (
          tokenizer, instance_builder.InstanceBuilder(options, tokenizer.vocab),
          encoder)
    return self._build_tools


def annotate_shard(worker, job):
  """Stage 1 for one shard: input bytes -> cache shard; returns its progress record."""
  stats = counters.annotation_statistics()
  started = time.time()
  path, start, end, first_line = job.input
  if start == end == 0:
    stats.add("empty_input_files", example=path)
  input_format = job.input_format
  # Pre-annotated formats split their own sentences and clean word by word.
  own_sentences = input_format in preannotated.FORMAT_SPLITTING
  lines = corpus_reader.read_shard_lines(path, start, end, first_line, stats,
                                         clean=not own_sentences)
  documents = corpus_reader.iter_documents(
      lines, input_format, None if own_sentences else worker.splitter(), stats, path)
  annotator = worker.annotator()
  share = job.annotate_share

  def report(line):
    worker.report(job, share * (line - first_line) / float(max(1, len(lines))))
  data, integrity = annotation_cache.encode_cache_shard(list(
      annotation_cache.annotate_documents(documents, annotator, path, stats,
                                          report)))
  stats.add_tables(annotator.take_statistics())
  fileio.write_atomically(job.cache_file, data)
  stats.add("input_bytes", end - start)
  result = {"shard": integrity, "statistics": stats.to_dict(),
            "seconds": time.time() - started}
  fileio.write_atomically(job.cache_done, fileio.json_bytes(result))
  return result


def write_records(path, serialized):
  """Writes framed records atomically; returns the shard's integrity record."""
  digest = hashlib.sha256()
  sizes = []

  def chunks():
    for chunk in record_codec.tfrecord_chunks(serialized):
      digest.update(chunk)
      sizes.append(len(chunk))
      yield chunk
  fileio.write_atomically(path, chunks())
  return {"records": len(serialized), "bytes": sum(sizes),
          "sha256": digest.hexdigest()}


def build_shard(worker, job):
  """Stage 2 for one shard: cache shard -> TFRecords; returns its progress record."""
  tokenizer, builder, encoder = worker.build_tools()
  options = worker.config.options
  labelled = set(worker.config.labelled_tasks)
  stats = data_stats.BuildStatistics(len(options.ngram_probs), labelled)
  started = time.time()
  rng = random.Random(shard_seed(options.random_seed, job.index))
  mapper = linguistics.TagMapper()
  serialized = []
  cache_file = job.cache_file
  cache_integrity = fileio.read_json(job.cache_done, advice=progress.RESTART_ADVICE)["shard"]
  total = float(max(1, cache_integrity["bytes"]))
  done_bytes = 0
  last_report = time.time()
  for line_number, raw in annotation_cache.read_cache_shard(cache_file,
                                                            cache_integrity):
    done_bytes += len(raw)
    if not raw.strip():
      continue
    sentences = annotation_cache.decode_document(raw, cache_file, line_number)
    segments = [instance_builder.tokenize_sentence(sentence, tokenizer, mapper,
                                                   labelled, stats)
                for sentence in sentences]
    stats.add("documents")
    stats.add("sentences", len(segments))
    segments = [segment for segment in segments if segment.ids]
    if not segments:
      stats.add("documents_without_tokens")
      continue
    for _ in range(options.dupe_factor):
      for instance in builder.create_instances(segments, rng, stats):
        serialized.append(encoder.encode(instance.features()))
        stats.add_instance(instance)
    if time.time() - last_report > 1.0:
      worker.report(job, job.build_base + (1.0 - job.build_base) *
                    done_bytes / total)
      last_report = time.time()
  rng.shuffle(serialized)
  integrity = write_records(job.output_file, serialized)
  stats.finish(mapper)
  result = {"shard": integrity, "cache_sha256": cache_integrity["sha256"],
            "statistics": stats.to_dict(), "seconds": time.time() - started}
  fileio.write_atomically(job.output_done, fileio.json_bytes(result))
  return result


def run_job(worker, job):
  """The parts of one shard's job that are not done; returns their records."""
  result = {"index": job.index, "annotate": None, "build": None}
  if job.annotate:
    result["annotate"] = annotate_shard(worker, job)
  if job.build:
    result["build"] = build_shard(worker, job)
  result["peak_rss_mb"] = peak_rss_mb()
  worker.report(job, 1.0)
  return result
