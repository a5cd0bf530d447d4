# coding=utf-8
"""The generator's local worker processes against the same run as a Beam pipeline.

Usage (.venv-tf2, which has Apache Beam):
  python bench/bench_beam.py [--input FILE] [--size_mb 4] [--workers 2] [--repeats 2]
      [--runner DirectRunner] [--max_seq_length 512] [--max_predictions_per_seq 75]
      [--dupe_factor 5] [--shard_size_mb 0.25]

Makes a corpus of about `--size_mb` by repeating `--input` (as
bench_create_pretraining_data.py does; default People's Daily 1998-01 from
bench/bench_data.py), then runs create_pretraining_data.py (a subprocess,
--stage=all, jieba) alternately with `--num_workers=N` (local processes) and
with `--runner=RUNNER --num_workers=N` (Beam; on the DirectRunner N worker
processes), `--repeats` times each, into fresh directories. It prints, per run,
the wall time and the peak memory of the whole process tree (the sum of the
resident sizes of the command and all its descendants, sampled every 0.1 s from
/proc, so Linux only), then the medians and the ratio Beam / local, and checks
that both wrote the same bytes.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import bench_create_pretraining_data

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")


def _children():
  """{pid: parent pid} of every process (/proc)."""
  parents = {}
  for name in os.listdir("/proc"):
    if not name.isdigit():
      continue
    try:
      with open("/proc/%s/stat" % name) as handle:
        # The command name may hold spaces: the fields after its ")" are fixed.
        fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
      continue  # gone meanwhile
    parents[int(name)] = int(fields[1])
  return parents


def _rss_mb(pid):
  try:
    with open("/proc/%d/status" % pid) as handle:
      for line in handle:
        if line.startswith("VmRSS:"):
          return int(line.split()[1]) / 1024.0
  except OSError:
    pass
  return 0.0


def tree_rss_mb(root):
  """Resident megabytes of `root` and all its descendants."""
  parents = _children()
  tree, frontier = {root}, [root]
  while frontier:
    pid = frontier.pop()
    for child, parent in parents.items():
      if parent == pid and child not in tree:
        tree.add(child)
        frontier.append(child)
  return sum(_rss_mb(pid) for pid in tree)


def timed_run(arguments, env):
  """(wall seconds, peak tree RSS MB) of one generator run."""
  started = time.time()
  process = subprocess.Popen([sys.executable, SCRIPT] + arguments, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  peak = 0.0
  stderr = []
  # Beam's workers log a lot: drain stderr while sampling, or the pipe fills.
  os.set_blocking(process.stderr.fileno(), False)
  while process.poll() is None:
    peak = max(peak, tree_rss_mb(process.pid))
    chunk = process.stderr.read()
    if chunk:
      stderr.append(chunk)
    time.sleep(0.1)
  seconds = time.time() - started
  rest = process.stderr.read()
  if rest:
    stderr.append(rest)
  if process.returncode != 0:
    raise SystemExit("generator failed:\n" + b"".join(stderr).decode("utf-8", "replace")[
        -4000:])
  return seconds, peak


def output_bytes(directory):
  return {name: open(os.path.join(directory, name), "rb").read()
          for name in sorted(os.listdir(directory)) if not name.startswith(".")}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  bench_create_pretraining_data.add_generator_arguments(parser)
  parser.add_argument("--size_mb", type=int, default=4)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--repeats", type=int, default=2)
  parser.add_argument("--runner", default="DirectRunner")
  args = parser.parse_args()
  input_format, work = bench_create_pretraining_data.resolve_input(args, "bench_beam_")
  corpus = bench_create_pretraining_data.make_corpus(args.input, args.size_mb, work)
  env = dict(os.environ, PYTHONPATH=REPO_ROOT)
  common = ["--input_file=" + corpus, "--input_format=" + input_format,
            "--max_seq_length=%d" % args.max_seq_length,
            "--max_predictions_per_seq=%d" % args.max_predictions_per_seq,
            "--dupe_factor=%d" % args.dupe_factor,
            "--shard_size_mb=%s" % args.shard_size_mb,
            "--num_workers=%d" % args.workers]
  drivers = [("local", []), (args.runner, ["--runner=" + args.runner])]
  print("Python %s, %d CPUs; %.2f MB of %s, seq %d, max predictions %d, dupe %d, "
        "jieba, shards of %s MB, %d workers" % (
            sys.version.split()[0], os.cpu_count(), os.path.getsize(corpus) / 1e6,
            os.path.basename(args.input), args.max_seq_length,
            args.max_predictions_per_seq, args.dupe_factor, args.shard_size_mb,
            args.workers))
  print("")
  print("| run | driver | wall s | peak RSS of the process tree MB |")
  print("|---|---|---|---|")
  times = {name: [] for name, _ in drivers}
  peaks = {name: [] for name, _ in drivers}
  outputs = {}
  for repeat in range(args.repeats):
    for name, extra in drivers:  # alternating, so load drifts hit both
      output_dir = os.path.join(work, "out_%s_%d" % (name, repeat))
      shutil.rmtree(output_dir, ignore_errors=True)
      seconds, peak = timed_run(common + extra + ["--output_dir=" + output_dir], env)
      times[name].append(seconds)
      peaks[name].append(peak)
      outputs[name] = output_bytes(output_dir)
      print("| %d | %s | %.1f | %.0f |" % (repeat + 1, name, seconds, peak))
      sys.stdout.flush()
  print("")
  local, beam = drivers[0][0], drivers[1][0]
  ratio = statistics.median(times[beam]) / statistics.median(times[local])
  print("median wall: local %.1f s, %s %.1f s: %.2fx (goal: within 1.3x); median peak "
        "RSS: local %.0f MB, %s %.0f MB" % (
            statistics.median(times[local]), beam, statistics.median(times[beam]), ratio,
            statistics.median(peaks[local]), beam, statistics.median(peaks[beam])))
  print("same bytes (shards and lert_data.json): %s" % (outputs[local] == outputs[beam]))


if __name__ == "__main__":
  main()
