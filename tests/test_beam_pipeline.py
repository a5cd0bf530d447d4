# coding=utf-8
"""create_pretraining_data.py --runner: the shards as an Apache Beam pipeline.

The pipeline must write the bytes of the local run (shards, cache, sidecar,
report) whatever the runner's workers, bundles, retries and duplicates; where
Beam is not installed (.venv-tf1, .venv-tf-latest), --runner is one error line.
"""

import glob
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import create_pretraining_data as cpd
from lert import errors
from lert.records import record_schema
import test_create_pretraining_data as generator_tests
from test_many_hosts import data_files
from conftest import REPO_ROOT

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")
SETTINGS = dict(vocab_file=os.path.join(REPO_ROOT, "vocab.txt"), max_seq_length=64,
                max_predictions_per_seq=10, dupe_factor=2, random_seed=7,
                shard_size_mb=0.002)
FAKE = "test_create_pretraining_data.FakeAnnotator"
FLAKY = "test_beam_pipeline.FlakyAnnotator"
# FlakyAnnotator's marker: created by the call that fails, so only one fails.
FLAKY_MARKER = "LERT_TEST_FLAKY_MARKER"
FLAKY_CALL = "LERT_TEST_FLAKY_CALL"


class FlakyAnnotator(generator_tests.FakeAnnotator):
  """FakeAnnotator (same output, same name) whose N-th call in a process fails,
  once per marker file: a bundle's first attempt dies, the next one works."""

  calls = 0

  def annotate(self, sentences):
    FlakyAnnotator.calls += 1
    if FlakyAnnotator.calls >= int(os.environ.get(FLAKY_CALL, "1")):
      try:
        os.close(os.open(os.environ[FLAKY_MARKER], os.O_CREAT | os.O_EXCL))
      except FileExistsError:
        pass  # failed once already
      else:
        raise errors.UserError("flaky annotator: first attempt fails")
    return super(FlakyAnnotator, self).annotate(sentences)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  directory = tmp_path_factory.mktemp("corpus")
  return generator_tests.write_sentence_per_line(
      directory / "corpus.txt", generator_tests.make_documents(50, seed=13))


@pytest.fixture(scope="module")
def local_run(corpus, tmp_path_factory):
  """The local run (one process) with the fake annotator: (output_dir, report)."""
  output_dir = str(tmp_path_factory.mktemp("local") / "out")
  sidecar = cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir,
                                annotator=FAKE, **SETTINGS))
  return output_dir, cpd.data_stats.format_report(sidecar)


@pytest.fixture
def worker_path(monkeypatch):
  """The Beam workers (processes) import the tests' annotators, as spawned
  local workers do."""
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join([REPO_ROOT, TESTS_DIR]))


def report_of(stderr):
  """The statistics report in a run's stderr."""
  lines = stderr.splitlines()
  start = lines.index("[create_pretraining_data] statistics:") + 1
  end = start
  while end < len(lines) and lines[end].startswith("  "):
    end += 1
  return "\n".join(["statistics:"] + lines[start:end])


# --- Without Beam (every environment) ---------------------------------------------------


def test_without_beam_runner_is_one_error_naming_the_environment(corpus, tmp_path,
                                                                 monkeypatch):
  monkeypatch.setitem(sys.modules, "apache_beam", None)  # import fails as if absent
  monkeypatch.delitem(sys.modules, "lert.generator.beam_pipeline", raising=False)
  with pytest.raises(errors.UserError, match=r"--runner needs Apache Beam.*\.venv-tf2"):
    cpd.run(cpd.Options(input_file=corpus, output_dir=str(tmp_path / "out"),
                        runner="DirectRunner", **SETTINGS))
  assert not os.path.exists(str(tmp_path / "out"))  # refused before any work


def test_the_script_without_beam_says_which_environment_has_it(corpus, tmp_path):
  # Beam hidden from the script's process, wherever it is installed.
  hide_beam = ("import runpy, sys; sys.modules['apache_beam'] = None; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
  result = subprocess.run(
      [sys.executable, "-c", hide_beam, SCRIPT, "--input_file=" + corpus,
       "--runner=DirectRunner", "--output_dir=" + str(tmp_path / "out"), "--project=p"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
  assert result.returncode == errors.USER_ERROR_EXIT, result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: --runner needs Apache Beam")
  assert ".venv-tf2" in lines[0]


@pytest.mark.parametrize("overrides,message", [
    (dict(num_hosts=2), "leave out --num_hosts and --host_index"),
    (dict(stage="finalize"), "finalize is the last step of a --runner pipeline"),
])
def test_runner_with_flags_it_replaces_is_refused(corpus, tmp_path, overrides, message):
  with pytest.raises(errors.UserError, match=message):
    cpd.run(cpd.Options(input_file=corpus, output_dir=str(tmp_path / "out"),
                        runner="DirectRunner", **dict(SETTINGS, **overrides)))


def test_beams_flags_without_runner_are_refused(corpus, tmp_path):
  result = subprocess.run(
      [sys.executable, SCRIPT, "--input_file=" + corpus, "--project=p",
       "--output_dir=" + str(tmp_path / "out")],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
  assert result.returncode == errors.USER_ERROR_EXIT
  assert result.stderr.strip().splitlines()[-1] == (
      "error: unknown flags or arguments: --project=p (Beam's pipeline options need "
      "--runner)")


# --- With Beam --------------------------------------------------------------------------


def test_direct_runner_with_two_workers_writes_the_local_bytes(
    corpus, local_run, tmp_path, worker_path, capfd):
  pytest.importorskip("apache_beam")
  output_dir = str(tmp_path / "out")
  capfd.readouterr()
  sidecar = cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir, annotator=FAKE,
                                runner="DirectRunner", num_workers=2, **SETTINGS))
  stderr = capfd.readouterr().err
  expected = data_files(local_run[0])
  assert len([name for name in expected if name.endswith(".tfrecord")]) >= 4
  assert data_files(output_dir) == expected
  assert report_of(stderr) == local_run[1]
  # Progress as Beam counters, equal to the statistics.
  counts = dict((name, int(value)) for name, value in re.findall(
      r"(\w+) (\d+)", stderr.split("Beam counters (lert): ")[1].splitlines()[0]))
  statistics = sidecar["statistics"]
  assert counts["annotate_shards"] == counts["build_shards"] == len(sidecar["files"])
  assert counts["annotate_documents"] == statistics["annotation"]["documents"] == 50
  assert counts["annotate_sentences"] == statistics["annotation"]["sentences"]
  assert counts["build_instances"] == statistics["build"]["instances"]
  # Started again: nothing to do, the same bytes.
  capfd.readouterr()
  cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir, annotator=FAKE,
                      runner="DirectRunner", num_workers=2, **SETTINGS))
  assert "%d already done, 0 to do" % len(sidecar["files"]) in capfd.readouterr().err
  assert data_files(output_dir) == expected


def test_a_killed_pipeline_started_again_does_only_the_unfinished_shards(corpus, tmp_path):
  """The launcher and its worker processes killed midway (SIGKILL to them all)."""
  pytest.importorskip("apache_beam")
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, TESTS_DIR]))
  output_dir = tmp_path / "out"
  command = [sys.executable, SCRIPT, "--input_file=" + corpus, "--runner=DirectRunner",
             "--num_workers=2", "--output_dir=" + str(output_dir),
             "--annotator=test_create_pretraining_data.SlowAnnotator"] + [
                 "--%s=%s" % item for item in sorted(SETTINGS.items())]
  process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
  built = str(output_dir / ".progress" / "pretraining-*.json")
  deadline = time.time() + 120
  while time.time() < deadline and not glob.glob(built):
    time.sleep(0.05)
  os.killpg(process.pid, signal.SIGKILL)
  process.wait()
  done_before = {path: os.stat(path).st_mtime_ns for path in glob.glob(built)}
  reference = tmp_path / "reference"
  cpd.run(cpd.Options(input_file=corpus, output_dir=str(reference), annotator=FAKE,
                      **SETTINGS))
  total = len(glob.glob(str(reference / "*.tfrecord")))
  assert 1 <= len(done_before) < total
  assert not os.path.exists(str(output_dir / record_schema.DIRECTORY_SIDECAR))
  result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "%d already done" % len(done_before) in result.stderr
  assert data_files(str(output_dir)) == data_files(str(reference))
  for path, mtime in done_before.items():
    assert os.stat(path).st_mtime_ns == mtime  # finished shards were not redone
  assert not [name for name in os.listdir(str(output_dir)) if ".tmp-" in name]


def test_annotate_and_build_as_two_pipelines(corpus, local_run, tmp_path):
  """The stages as separate pipelines (GPU workers, then CPU workers)."""
  pytest.importorskip("apache_beam")
  output_dir, cache_dir = str(tmp_path / "out"), str(tmp_path / "out" / ".annotations")
  assert cpd.run(cpd.Options(stage="annotate", input_file=corpus, cache_dir=cache_dir,
                             annotator=FAKE, runner="FnApiRunner", **SETTINGS)) is None
  assert not glob.glob(os.path.join(output_dir, "*.tfrecord"))
  cpd.run(cpd.Options(stage="build", cache_dir=cache_dir, output_dir=output_dir,
                      annotator=FAKE, runner="FnApiRunner", **SETTINGS))
  assert data_files(output_dir) == data_files(local_run[0])


def test_every_shard_twice_in_more_bundles_than_shards(corpus, local_run, tmp_path,
                                                       worker_path):
  """A runner that runs a bundle twice (or splits the work finer than the
  shards) leaves the bytes of the local run."""
  beam = pytest.importorskip("apache_beam")
  from apache_beam.options.pipeline_options import PipelineOptions
  from lert.generator import beam_pipeline
  from lert.generator import shard_jobs
  options = cpd.Options(input_file=corpus, output_dir=str(tmp_path / "out"),
                        annotator=FAKE, **SETTINGS)
  manifest, identity, jobs = cpd.prepare(options)
  assert len(jobs) >= 4
  config = shard_jobs.WorkerConfig.of_run(options, manifest)
  with beam.Pipeline(options=PipelineOptions([
      "--runner=DirectRunner", "--direct_num_workers=3",
      "--direct_running_mode=multi_processing"])) as pipeline:
    _ = (pipeline | beam.Create(jobs + jobs[::-1]) |
         beam_pipeline.ShardStages(options, manifest, identity, config))
  assert data_files(options.output_dir) == data_files(local_run[0])


def test_a_failed_first_attempt_is_retried_with_the_same_bytes(
    corpus, local_run, tmp_path, monkeypatch):
  """The bundle-based DirectRunner retries a failed bundle, as Dataflow does."""
  pytest.importorskip("apache_beam")
  monkeypatch.setenv(FLAKY_MARKER, str(tmp_path / "failed-once"))
  monkeypatch.setenv(FLAKY_CALL, "2")
  output_dir = str(tmp_path / "out")
  cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir, annotator=FLAKY,
                      runner="BundleBasedDirectRunner", **SETTINGS))
  assert os.path.exists(str(tmp_path / "failed-once"))  # an attempt did fail
  assert data_files(output_dir) == data_files(local_run[0])
  assert not [name for name in os.listdir(output_dir) if ".tmp-" in name]


def test_a_failed_pipeline_run_again_redoes_only_the_unfinished_shards(
    corpus, local_run, tmp_path, monkeypatch):
  """A runner without retries (the FnApiRunner, the DirectRunner's engine)
  stops; the next run does only what is missing."""
  pytest.importorskip("apache_beam")
  monkeypatch.setenv(FLAKY_MARKER, str(tmp_path / "failed-once"))
  monkeypatch.setenv(FLAKY_CALL, "3")
  monkeypatch.setattr(FlakyAnnotator, "calls", 0)
  output_dir = str(tmp_path / "out")
  options = cpd.Options(input_file=corpus, output_dir=output_dir, annotator=FLAKY,
                        runner="FnApiRunner", **SETTINGS)
  with pytest.raises(errors.UserError, match=r"^flaky annotator: first attempt fails "
                     r"\(in the Beam pipeline; finished shards are kept"):
    cpd.run(options)
  cache_progress = os.path.join(output_dir, ".annotations", ".progress")
  done_before = {path: os.stat(path).st_mtime_ns
                 for path in glob.glob(os.path.join(cache_progress, "annotations-*.json"))}
  total = len(data_files(local_run[0])) - 2  # manifest and sidecar
  assert 1 <= len(done_before) < total // 2
  assert not os.path.exists(os.path.join(output_dir, record_schema.DIRECTORY_SIDECAR))
  cpd.run(options)
  assert data_files(output_dir) == data_files(local_run[0])
  for path, mtime in done_before.items():
    assert os.stat(path).st_mtime_ns == mtime  # annotated shards were not redone


def test_googles_output_files_through_the_pipeline(corpus, tmp_path, worker_path):
  pytest.importorskip("apache_beam")

  def outputs(name):
    return ",".join(str(tmp_path / name / f) for f in ("x.tfrecord", "y.tfrecord"))
  cpd.run(cpd.Options(input_file=corpus, output_file=outputs("local"), **SETTINGS))
  cpd.run(cpd.Options(input_file=corpus, output_file=outputs("beam"), num_workers=2,
                      runner="DirectRunner", **SETTINGS))
  for name in ("x.tfrecord", "x.tfrecord.json", "y.tfrecord", "y.tfrecord.json"):
    local = open(str(tmp_path / "local" / name), "rb").read()
    beam = open(str(tmp_path / "beam" / name), "rb").read()
    if name.endswith(".json"):  # it names its work directory
      beam = beam.replace(b"/beam/", b"/local/")
    assert local == beam, name


def test_ltp_annotator_as_a_dofn(tmp_path, worker_path):
  """LTP in the pipeline's annotation step (loaded once per DoFn in setup; on
  the worker's GPU when it has one): the bytes of the local LTP run."""
  pytest.importorskip("apache_beam")
  pytest.importorskip("ltp")
  import ltp_tiny
  model = ltp_tiny.build_tiny_ltp(str(tmp_path / "ltp"))
  corpus = tmp_path / "docs.txt"
  corpus.write_text(u"\n".join(u"".join(doc) for doc in generator_tests.make_documents(
      12, seed=4)) + u"\n", encoding="utf-8")
  settings = dict(SETTINGS, input_file=str(corpus), input_format="doc_per_line",
                  annotator="ltp", ltp_model=model, ltp_batch_size=4,
                  shard_size_mb=0.001)
  local = cpd.run(cpd.Options(output_dir=str(tmp_path / "local"), **settings))
  piped = cpd.run(cpd.Options(output_dir=str(tmp_path / "beam"), runner="DirectRunner",
                              num_workers=2, **settings))
  assert piped["labelled_tasks"] == ["pos", "ner", "dep"]
  assert len(local["files"]) >= 2
  assert data_files(str(tmp_path / "beam")) == data_files(str(tmp_path / "local"))


def test_the_script_passes_beams_options_through(corpus, tmp_path, worker_path):
  pytest.importorskip("apache_beam")
  command = [sys.executable, SCRIPT, "--input_file=" + corpus, "--annotator=" + FAKE,
             "--output_dir=" + str(tmp_path / "out"), "--runner=DirectRunner"] + [
                 "--%s=%s" % item for item in sorted(SETTINGS.items())]
  threaded = command + ["--direct_num_workers=2", "--direct_running_mode=multi_threading",
                        "--job_name=lert-test"]
  result = subprocess.run(threaded, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
  assert result.returncode == 0, result.stderr[-2000:]
  assert os.path.isfile(str(tmp_path / "out" / record_schema.DIRECTORY_SIDECAR))
  result = subprocess.run(command + ["--no_such_option=1"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
  assert result.returncode == errors.USER_ERROR_EXIT
  assert result.stderr.strip().splitlines()[-1] == (
      "error: unknown flag(s) --no_such_option: neither a generator flag nor one of "
      "Beam's pipeline options")
  result = subprocess.run(command + ["--direct_running_mode=sideways"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
  assert result.returncode == errors.USER_ERROR_EXIT
  assert result.stderr.strip().splitlines()[-1].startswith(
      "error: Beam's pipeline options: argument --direct_running_mode: invalid choice")
  result = subprocess.run(command[:-1] + ["--runner=NoSuchRunner"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
  assert result.returncode == errors.USER_ERROR_EXIT
  assert result.stderr.strip().splitlines()[-1].startswith("error: --runner=NoSuchRunner")
