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

Apache Beam: `--runner=DirectRunner|DataflowRunner|FlinkRunner|SparkRunner|...`
runs the same shard functions as a Beam pipeline (beam_pipeline.py), with
Beam's own pipeline options on the command line; the bytes are those of a
local run. Without --runner nothing imports Beam.

Scale and safety (shard_jobs.py, job_runner.py): `--num_workers`
processes work on whole shards; the output is byte-identical whatever the
number of workers. Files are written under a temporary name and renamed; a
re-run after an interruption redoes only unfinished shards (one run per
directory at a time). Memory per worker is bounded by one shard (its
instances are shuffled in memory), not by the corpus. Progress with rate and
ETA goes to stderr, and a statistics report at the end.

Every path may be local or remote (`gs://`, any tf.io.gfile scheme; lert/fileio.py).
The modules named here are lert/generator/*.py and lert/records/*.py; the
work directories' progress files and leftovers are lert/generator/progress.py's.

This script holds the run's order (`run`) and `main`; the options, their
checks and flags are lert/generator/options.py (its names are re-exported here).
"""

import os
import sys
import time

from lert import errors
from lert import fileio
from lert.generator import corpus_reader
from lert.generator import data_stats
from lert.generator import job_runner
from lert.generator import output_merge
from lert.generator import progress
from lert.generator import shard_jobs
# Also the names that tests and other scripts use from this command.
from lert.generator.options import (  # noqa: F401
    Options, define_flags, options_from_flags, validate_options)


def _log_throughput(label, jobs, results, elapsed):
  """The run's rate; `results` None: the workers are a Beam runner's (whose
  memory its UI shows), not ours."""
  processed = sum(job.bytes for job in jobs)
  own_peak = shard_jobs.peak_rss_mb()
  if results is None:
    workers = ""
  else:
    peaks = [r["peak_rss_mb"] for r in results if r.get("peak_rss_mb")]
    workers = "%s MB per worker, " % (("%.0f" % max(peaks)) if peaks else "?")
  progress.log(
      "%s: %.2f MB of input in %.1f s (%.2f MB/s); peak RSS %s%s MB in this "
      "process" % (label, processed / 1e6, elapsed, processed / 1e6 / max(elapsed, 1e-6),
                   workers, ("%.0f" % own_peak) if own_peak is not None else "?"))


def prepare(options):
  """The checks and the plan both drivers start from: (manifest, identity of
  the build or None for --stage=annotate, jobs of the unfinished shards)."""
  output_dir = options.resolved_output_dir()
  if options.stage in ("annotate", "all"):  # bad input fails first
    corpus_reader.check_input_files(
        corpus_reader.expand_input_patterns(options.input_file))
  if options.stage in ("build", "all", "finalize"):
    progress.ensure_work_dir(output_dir, "output_dir")
    for path in options.output_files():
      fileio.ensure_parent_dir(path, "output_file")
  manifest = shard_jobs.prepare_cache(options)
  cache_dir = options.resolved_cache_dir()
  if options.stage in ("build", "finalize") and options.input_file:
    progress.log(
        "note: --input_file is not used by --stage=%s; the inputs are those "
        "the cache was annotated from (%s)" %
        (options.stage, os.path.join(cache_dir, shard_jobs.MANIFEST)))
  # Several hosts share these directories: each removes only its own leftovers.
  owns = options.owns_shard if options.num_hosts > 1 else None
  progress.remove_stale_temporaries(cache_dir, owns)
  identity = None
  if options.stage != "annotate":
    progress.remove_stale_temporaries(output_dir, owns)
    identity = shard_jobs.build_identity(options, manifest)
    shard_jobs.check_build_config(options, identity)
  return manifest, identity, shard_jobs.make_jobs(options, manifest)


def _beam_driver():
  """lert.generator.beam_pipeline, or a UserError where Beam is not installed."""
  try:
    from lert.generator import beam_pipeline
  except ImportError as e:
    if not (e.name or "").startswith("apache_beam"):
      raise
    raise errors.UserError(
        "--runner needs Apache Beam, which this Python %d.%d environment lacks (%s): "
        "run the command with .venv-tf2/bin/python or .venv-tf-latest/bin/python "
        "(requirements/tf2.txt and tf-latest.txt pin apache-beam), or leave out "
        "--runner to use this machine's worker processes" %
        (sys.version_info[0], sys.version_info[1], e))
  return beam_pipeline


def run(options, pipeline_args=()):
  """Runs the stage(s) `options` asks for; returns the sidecar, or None where
  this run does not write one (--stage=annotate, one host of several).

  With `options.runner`, the shards are a Beam pipeline's work and
  `pipeline_args` are Beam's own options (e.g. --project, --region).
  """
  validate_options(options)
  beam_pipeline = _beam_driver() if options.runner else None
  started = time.time()
  manifest, identity, jobs = prepare(options)
  if options.stage == "finalize":
    if jobs:
      raise errors.UserError(
          "--stage=finalize: %d of the %d shards are not built in %s (%s): run "
          "--stage=build (or all) for them first; shard k is built by "
          "--host_index=k mod --num_hosts" % (
              len(jobs), len(manifest["shards"]), options.resolved_output_dir(),
              ", ".join(os.path.basename(job.output_file) for job in jobs[:5])))
    return _report(output_merge.finalize(options, manifest, identity))
  label = {"annotate": "annotate", "build": "build", "all": "annotate+build"}[
      options.stage]
  owned = sum(1 for index in range(len(manifest["shards"]))
              if options.owns_shard(index))
  progress.log("%s: %d shard(s)%s, %d already done, %d to do, %s" % (
      label, owned, "" if options.num_hosts == 1 else " of %d on host %d of %d" % (
          len(manifest["shards"]), options.host_index, options.num_hosts),
      owned - len(jobs), len(jobs), "Beam runner %s" % options.runner
      if options.runner else "%d worker(s)" % options.num_workers))
  worker_config = shard_jobs.WorkerConfig.of_run(options, manifest)
  if beam_pipeline:
    sidecar = beam_pipeline.run_pipeline(options, manifest, identity, jobs,
                                         worker_config, pipeline_args)
    _log_throughput(label, jobs, None, time.time() - started)
    return sidecar and _report(sidecar)
  results = job_runner.execute_jobs(jobs, worker_config, options.num_workers, label)
  _log_throughput(label, jobs, results, time.time() - started)
  if options.stage == "annotate":
    return None
  if options.num_hosts > 1:
    progress.log("host %d of %d: its shards are built; once every host is "
                 "done, run --stage=finalize once (same flags, no "
                 "--num_hosts/--host_index)" % (options.host_index,
                                                options.num_hosts))
    return None
  return _report(output_merge.finalize(options, manifest, identity))


def _report(sidecar):
  progress.log(data_stats.format_report(sidecar))
  return sidecar


# --- Command line ---------------------------------------------------------------------------


def main(argv):
  from absl import flags
  # Google's flag, defined by tokenization on the global FLAGS (refused here).
  options = options_from_flags(
      flags.FLAGS, preserve_unused_tokens=flags.FLAGS.preserve_unused_tokens)
  # Flags of no generator setting are Beam's pipeline options (with --runner).
  if len(argv) > 1 and not options.runner:
    raise errors.UserError(
        "unknown flags or arguments: %s (Beam's pipeline options need --runner)" %
        " ".join(argv[1:]))
  run(options, pipeline_args=argv[1:])


if __name__ == "__main__":
  define_flags()
  errors.run_main(main, known_only=True)
