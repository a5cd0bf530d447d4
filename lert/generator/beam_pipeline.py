# coding=utf-8
"""The generator's shards as an Apache Beam pipeline (create_pretraining_data.py --runner).

One implementation, two drivers: the driver plans as the local run does
(create_pretraining_data.prepare: the cache's manifest, one shard_jobs.Job
per unfinished shard), and the pipeline runs the same shard functions on the
runner's workers:

  Create(jobs, reshuffled) -> AnnotateShard -> BuildShard
    -> ToList (waits for every shard) -> Finalize (sidecar, --output_file files)

A shard's bytes depend only on its number and the flags (shard_jobs.shard_seed)
and every file is written under a temporary name and renamed, so a bundle that
a runner retries, or runs twice, writes the same bytes again: nothing is lost
or duplicated. A run started again plans only the unfinished shards.

Progress is Beam metrics (namespace "lert": shards, documents, sentences,
instances and the counters of bad input), which the runner's UI shows; the
statistics report is the local run's, read from the sidecar.

Imported only by create_pretraining_data.py when --runner is given: nothing
else needs Beam (this module fails to import without it).
"""

import contextlib
import io
import os

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options import pipeline_options

import lert
from lert import errors
from lert import fileio
from lert.generator import counters
from lert.generator import output_merge
from lert.generator import progress
from lert.generator import shard_jobs
from lert.records import record_schema

NAMESPACE = "lert"
# Runners that run on this machine and take --direct_num_workers.
_DIRECT_RUNNERS = ("DirectRunner", "SwitchingDirectRunner", "FnApiRunner")


def _count(stage, declared, statistics):
  """Adds a shard's statistics to the stage's Beam counters."""
  Metrics.counter(NAMESPACE, "%s_shards" % stage).inc()
  for counter in declared:
    value = statistics.get(counter.name)
    if value:
      Metrics.counter(NAMESPACE, "%s_%s" % (stage, counter.name)).inc(value)


class _ShardDoFn(beam.DoFn):
  """A shard_jobs.Worker per DoFn instance, made once (setup), not per element."""

  def __init__(self, config):
    super(_ShardDoFn, self).__init__()
    self._config = config
    self._worker = None

  def setup(self):
    self._worker = shard_jobs.Worker(self._config)


class AnnotateShard(_ShardDoFn):
  """Stage 1 of a job's shard (shard_jobs.annotate_shard); passes the job on.

  The annotator is made in `setup`, once per DoFn instance (a runner keeps
  one per worker thread: one thread per worker, one model per GPU), on the
  worker: LTP loads onto the worker's GPU when it has one (--ltp_device).
  """

  def setup(self):
    super(AnnotateShard, self).setup()
    self._worker.annotator()

  def process(self, job):
    if job.annotate:
      record = shard_jobs.annotate_shard(self._worker, job)
      _count("annotate", counters.ANNOTATION_COUNTERS, record["statistics"])
    yield job


class BuildShard(_ShardDoFn):
  """Stage 2 of a job's shard (shard_jobs.build_shard); yields its number."""

  def process(self, job):
    if job.build:
      record = shard_jobs.build_shard(self._worker, job)
      _count("build", counters.BUILD_COUNTERS, record["statistics"])
    yield job.index


class Finalize(beam.DoFn):
  """The step after the last shard: output_merge.finalize, as --stage=finalize."""

  def __init__(self, options, manifest, identity):
    super(Finalize, self).__init__()
    self._args = (options, manifest, identity)

  def process(self, indexes):
    output_merge.finalize(*self._args)
    yield len(indexes)


class ShardStages(beam.PTransform):
  """Jobs in (spread over the workers, e.g. by beam.Create), the stages they
  ask for out; with a build, the sidecar at the end."""

  def __init__(self, options, manifest, identity, worker_config, annotate=True):
    """`annotate` False: no job annotates (no annotator, no model to load)."""
    super(ShardStages, self).__init__()
    self._options = options
    self._manifest = manifest
    self._identity = identity
    self._config = worker_config
    self._annotate = annotate and options.stage in ("annotate", "all")

  def expand(self, jobs):
    # `jobs` come from beam.Create, which reshuffles them over the workers.
    # Annotation and building stay fused (a shard is built where and right
    # after it was annotated, as in the local run): no barrier between them.
    if self._annotate:
      jobs = jobs | "Annotate" >> beam.ParDo(AnnotateShard(self._config))
    if self._options.stage == "annotate":
      return jobs
    return (jobs | "Build" >> beam.ParDo(BuildShard(self._config)) |
            "AllShards" >> beam.combiners.ToList() |
            "Finalize" >> beam.ParDo(Finalize(self._options, self._manifest,
                                              self._identity)))


def beam_options(options, pipeline_args):
  """Beam's PipelineOptions: `pipeline_args` unchanged, plus --runner and
  --num_workers (on the DirectRunner also its processes); unknown ones refused."""
  given = set(arg.split("=", 1)[0].lstrip("-") for arg in pipeline_args
              if arg.startswith("--"))
  args = list(pipeline_args) + ["--runner=%s" % options.runner]
  if options.num_workers > 1:
    args.append("--num_workers=%d" % options.num_workers)
    if options.runner in _DIRECT_RUNNERS:
      for name, value in (("direct_num_workers", options.num_workers),
                          ("direct_running_mode", "multi_processing")):
        if name not in given:
          args.append("--%s=%s" % (name, value))
  result = pipeline_options.PipelineOptions(args)
  # Beam's argparse prints its usage and exits on a bad value: one line instead.
  printed = io.StringIO()
  try:
    with contextlib.redirect_stderr(printed):
      unknown = sorted(set(result.get_all_options(retain_unknown_options=True)) -
                       set(result.get_all_options()))
  except SystemExit:
    raise errors.UserError("Beam's pipeline options: %s" % (
        printed.getvalue().strip().splitlines() or ["cannot be parsed"])[-1].split(
            "error: ", 1)[-1])
  if unknown:
    raise errors.UserError(
        "unknown flag(s) %s: neither a generator flag nor one of Beam's pipeline "
        "options" % ", ".join("--" + name for name in unknown))
  return result


def _failure(error):
  """A UserError raised on a worker (as such, or in the text of the runner's
  error), with the advice to run again; None for any other error."""
  text = str(error)
  marker = "UserError: "
  if not isinstance(error, errors.UserError):
    if marker not in text:
      return None
    text = text[text.rindex(marker) + len(marker):].strip()
  message = text.splitlines()[0].split(" [while running")[0]
  return errors.UserError("%s (in the Beam pipeline; finished shards are kept: run "
                          "again to resume)" % message)


def counter_totals(result):
  """{name: value} of the pipeline's "lert" counters, summed over its steps."""
  totals = {}
  query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
  for counter in query["counters"]:
    value = counter.committed if counter.committed is not None else counter.attempted
    name = counter.key.metric.name
    totals[name] = totals.get(name, 0) + (value or 0)
  return totals


def run_pipeline(options, manifest, identity, jobs, worker_config, pipeline_args):
  """Runs `jobs` on options.runner and waits; returns the sidecar written at
  the end (None for --stage=annotate)."""
  beam_opts = beam_options(options, pipeline_args)
  # The DirectRunner's worker processes import lert and the root modules too.
  paths = [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
  if lert.REPO_DIR not in paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([lert.REPO_DIR] + paths)
  try:
    pipeline = beam.Pipeline(options=beam_opts)
  except ValueError as e:  # an unknown runner name
    raise errors.UserError("--runner=%s: %s" % (options.runner, e))
  _ = (pipeline | "Shards" >> beam.Create(jobs) |
       "Stages" >> ShardStages(options, manifest, identity, worker_config,
                               annotate=any(job.annotate for job in jobs)))
  try:
    result = pipeline.run()
    result.wait_until_finish()
  except Exception as e:  # pylint: disable=broad-except
    failure = _failure(e)
    if failure is None:
      raise
    raise failure
  try:
    totals = ", ".join("%s %d" % item for item in sorted(counter_totals(result).items()))
  except Exception as e:  # pylint: disable=broad-except
    # The data is written: a runner that cannot report metrics must not fail the run.
    totals = "not available from this runner (%s: %s)" % (type(e).__name__, e)
  progress.log("Beam counters (%s): %s" % (NAMESPACE, totals or "none"))
  if options.stage == "annotate":
    return None
  outputs = options.output_files()
  path = (outputs[0] + record_schema.SIDECAR_SUFFIX if outputs else
          os.path.join(options.output_dir, record_schema.DIRECTORY_SIDECAR))
  return fileio.read_json(path)
