# coding=utf-8
"""Runs one fine-tuning task over several seeds and prints `max (avg)`.

The paper's tables report, per task, the maximum over several fine-tuning runs
with the average in brackets, e.g. `94.9 (94.7)`, and `EM / F1` pairs for
reading comprehension. This runner calls scripts/finetune_<task>.sh once per
seed (output in <output_dir>/seed_<N>; a seed whose best_eval_results.txt
already exists is not run again) and summarises each run's best dev score:

  python scripts/repeat_seeds.py --task chnsenticorp --seeds 1,2,3,4,5 \\
      --init_checkpoint lert/bert_model.ckpt --data_dir DATA/chnsenticorp \\
      --output_dir runs/chnsenticorp [-- extra flags for the script]
"""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from lert import errors  # noqa: E402
from lert import settings  # noqa: E402
from lert.engine import summaries  # noqa: E402

RESULTS = "best_eval_results.txt"
# Metrics reported per family, in the paper's order; the first set whose keys
# are all in a results file is used.
METRIC_SETS = (("EM", "F1"), ("accuracy",), ("f1",))


def read_numbers(path):
  """A results file -> dict of floats (non-numbers, e.g. the checkpoint, are skipped)."""
  results = {}
  for key, value in summaries.read_results(path).items():
    try:
      results[key] = float(value)
    except ValueError:
      pass
  return results


def metric_names(results):
  for names in METRIC_SETS:
    if all(n in results for n in names):
      return names
  raise errors.UserError("no known metric in results (keys: %s)" %
                         ", ".join(sorted(results)))


def max_avg(values):
  """The paper's cell: maximum with the average in brackets, one decimal."""
  return "%.1f (%.1f)" % (max(values), sum(values) / len(values))


def summarize(runs):
  """runs: [(seed, results dict)] -> the `max (avg)` line (`EM / F1` joined)."""
  names = metric_names(runs[0][1])
  cells = [max_avg([r[n] for _, r in runs]) for n in names]
  return " / ".join(cells), names


def run_seed(script, seed, args, extra):
  out = os.path.join(args.output_dir, "seed_%d" % seed)
  if os.path.exists(os.path.join(out, RESULTS)):
    print("seed %d: %s exists, not run again" % (seed, out))
    return out
  cmd = ["bash", script, "--init_checkpoint", args.init_checkpoint,
         "--data_dir", args.data_dir, "--output_dir", out,
         "--seed=%d" % seed] + extra
  print("seed %d: %s" % (seed, " ".join(cmd)))
  sys.stdout.flush()
  # The recipe runs with this interpreter unless the user chose one with PYTHON.
  env = dict(os.environ)
  env.setdefault("PYTHON", sys.executable)
  status = subprocess.call(cmd, env=env)
  if status:
    raise errors.UserError("seed %d: %s exited with status %d (its messages are "
                           "above)" % (seed, script, status))
  return out


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  extra = []
  if "--" in argv:
    cut = argv.index("--")
    argv, extra = argv[:cut], argv[cut + 1:]
  parser = settings.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--task", required=True,
                      help="task name: runs scripts/finetune_<task>.sh")
  parser.add_argument("--seeds", default="1,2,3,4,5",
                      help="comma-separated seeds (default 1,2,3,4,5)")
  parser.add_argument("--init_checkpoint", required=True)
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--script", default=None,
                      help="script to run per seed (default: "
                      "scripts/finetune_<task>.sh)")
  args = parser.parse_args(argv)
  try:
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
  except ValueError:
    parser.error("--seeds must be comma-separated integers, got %r" % args.seeds)
  if not seeds:
    parser.error("--seeds is empty")
  script = args.script or os.path.join(REPO, "scripts",
                                       "finetune_%s.sh" % args.task)
  if not os.path.isfile(script):
    parser.error("no script %s for task %s" % (script, args.task))

  runs = []
  for seed in seeds:
    out = run_seed(script, seed, args, extra)
    path = os.path.join(out, RESULTS)
    if not os.path.exists(path):
      raise errors.UserError("seed %d: the run wrote no %s" % (seed, path))
    runs.append((seed, read_numbers(path)))
  line, names = summarize(runs)
  for seed, results in runs:
    print("seed %d: %s" % (seed, " / ".join("%s %.2f" % (n, results[n])
                                             for n in names)))
  print("%s %s over %d seeds, max (avg): %s" % (
      args.task, " / ".join(names), len(runs), line))
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
