# coding=utf-8
"""Where a training step's time goes: ours or Google's script, any environment.

Runs a training script unchanged (ours by path, Google's `bert-tensorflow`
scripts as `google:run_pretraining` / `google:run_classifier`, TF 1.15 only)
with two measurements patched into TensorFlow's session classes:

- every `MonitoredSession.run` (one training step: hooks included) and the raw
  `Session.run` calls inside it, timed with a wall clock; the step's hooks and
  Python are the step minus its main `Session.run`, the loop's own Python the
  gap between two steps;
- `--trace_steps` steps traced with `RunOptions.FULL_TRACE` (tf.RunMetadata):
  the top op types and name scopes by time per step, the number of ops run
  per step, and a chrome trace (timeline.Timeline) of the first traced step.

  taskset -c 1 .venv-tf1/bin/python bench/profile_step.py --out /tmp/p.json -- \
      google:run_pretraining --input_file=... --do_train=True ...
  taskset -c 1 .venv-tf2/bin/python bench/profile_step.py -- run_pretraining.py ...

Traced steps are left out of the wall-clock figures (tracing slows a step).
"""

import argparse
import collections
import json
import os
import re
import runpy
import statistics
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Recorder(object):
  """Wall times of steps and of the Session.run calls inside them; traces."""

  def __init__(self, trace_steps, skip_steps, trace_file):
    self.trace_steps = set(trace_steps)
    self.skip_steps = skip_steps
    self.trace_file = trace_file
    self.steps = []  # (step wall, [raw run walls], gap before it, traced)
    self.in_step = False
    self.step_index = 0
    self.raw = []
    self.last_end = None
    self.by_type = collections.Counter()
    self.by_scope = collections.Counter()
    self.by_node = collections.Counter()
    self.node_counts = []
    self.traced = 0

  def trace_now(self):
    return self.in_step and not self.raw and self.step_index in self.trace_steps

  def add_trace(self, run_metadata, graph):
    """Adds one traced step's node times (op start to end, microseconds)."""
    from tensorflow.python.client import timeline  # pylint: disable=g-import-not-at-top
    nodes = 0
    for device in run_metadata.step_stats.dev_stats:
      for node in device.node_stats:
        micros = node.op_end_rel_micros - node.op_start_rel_micros
        name = node.node_name.split(":")[0]
        match = re.match(r"^[^=]+= (\w+)\(", node.timeline_label or "")
        op_type = match.group(1) if match else name.split("/")[-1]
        try:
          op_type = graph.get_operation_by_name(name).type
        except (KeyError, ValueError):
          pass
        parts = name.split("/")
        scope = "/".join(parts[:2]) if len(parts) > 2 else parts[0]
        if parts[0] == "gradients":
          scope = "gradients/" + (parts[1] if len(parts) > 2 else "")
        self.by_type[op_type] += micros
        self.by_scope[scope] += micros
        self.by_node[name] += micros
        nodes += 1
    self.node_counts.append(nodes)
    if self.traced == 0 and self.trace_file:
      with open(self.trace_file, "w") as handle:
        handle.write(timeline.Timeline(run_metadata.step_stats).generate_chrome_trace_format())
    self.traced += 1

  def report(self):
    timed = [s for i, s in enumerate(self.steps) if i >= self.skip_steps and not s[3]]
    if not timed:
      return {"error": "no timed steps (%d steps in all)" % len(self.steps)}
    step = statistics.median(s[0] for s in timed)
    main = statistics.median(s[1][0] for s in timed)
    others = statistics.median(sum(s[1][1:]) for s in timed)
    gap = statistics.median(s[2] for s in timed if s[2] is not None)
    per = max(1, self.traced)
    result = collections.OrderedDict([
        ("steps", len(self.steps)), ("timed_steps", len(timed)),
        ("step_ms", 1e3 * step), ("session_run_ms", 1e3 * main),
        ("other_session_runs_ms", 1e3 * others),
        ("hooks_and_python_in_step_ms", 1e3 * (step - main - others)),
        ("loop_gap_ms", 1e3 * gap),
        ("wall_per_step_ms", 1e3 * (step + gap)),
        ("raw_runs_per_step", statistics.median(len(s[1]) for s in timed)),
        ("traced_steps", self.traced),
        ("ops_per_step", statistics.median(self.node_counts) if self.node_counts else None),
        ("traced_op_ms_per_step", sum(self.by_type.values()) / 1e3 / per),
        ("top_op_types_ms", [(k, v / 1e3 / per) for k, v in self.by_type.most_common(25)]),
        ("top_scopes_ms", [(k, v / 1e3 / per) for k, v in self.by_scope.most_common(25)]),
        ("top_nodes_ms", [(k, v / 1e3 / per) for k, v in self.by_node.most_common(15)])])
    return result


def patch(recorder):
  """Times MonitoredSession.run and the Session.run calls inside it; traces."""
  from tensorflow.core.protobuf import config_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow.python.client import session as session_lib
  from tensorflow.python.training import monitored_session

  raw_run = session_lib.BaseSession.run
  step_run = monitored_session._MonitoredSession.run  # pylint: disable=protected-access

  def timed_raw_run(self, fetches, feed_dict=None, options=None, run_metadata=None):
    if not recorder.in_step:
      return raw_run(self, fetches, feed_dict, options, run_metadata)
    trace = recorder.trace_now()
    if trace:
      traced = config_pb2.RunOptions()
      if options is not None:
        traced.CopyFrom(options)
      traced.trace_level = config_pb2.RunOptions.FULL_TRACE
      options = traced
      run_metadata = run_metadata if run_metadata is not None else config_pb2.RunMetadata()
    started = time.perf_counter()
    result = raw_run(self, fetches, feed_dict, options, run_metadata)
    recorder.raw.append(time.perf_counter() - started)
    if trace:
      recorder.add_trace(run_metadata, self.graph)
    return result

  def timed_step_run(self, *args, **kwargs):
    if recorder.in_step:  # a hook running the monitored session itself
      return step_run(self, *args, **kwargs)
    started = time.perf_counter()
    gap = None if recorder.last_end is None else started - recorder.last_end
    traced = recorder.step_index in recorder.trace_steps
    recorder.in_step, recorder.raw = True, []
    try:
      return step_run(self, *args, **kwargs)
    finally:
      recorder.in_step = False
      end = time.perf_counter()
      if recorder.raw:
        recorder.steps.append((end - started, recorder.raw, gap, traced))
      recorder.step_index += 1
      recorder.last_end = end

  session_lib.BaseSession.run = timed_raw_run
  monitored_session._MonitoredSession.run = timed_step_run  # pylint: disable=protected-access


def run_target(target, argv):
  """Runs `target` (a script path, or google:NAME) with `argv` as its flags."""
  if target.startswith("google:"):
    import importlib  # pylint: disable=g-import-not-at-top
    import tensorflow.compat.v1 as tf
    sys.argv = [target] + argv
    module = importlib.import_module("bert." + target[len("google:"):])
    try:
      tf.app.run(module.main)
    except SystemExit as e:
      if e.code not in (None, 0):
        raise
    return
  path = target if os.path.isabs(target) else os.path.join(REPO_ROOT, target)
  sys.path.insert(0, os.path.dirname(path))
  sys.argv = [path] + argv
  try:
    runpy.run_path(path, run_name="__main__")
  except SystemExit as e:
    if e.code not in (None, 0):
      raise


def print_report(result, label):
  print("\n=== profile_step: %s ===" % label)
  for key, value in result.items():
    if isinstance(value, list):
      print("%s:" % key)
      for name, ms in value:
        print("  %9.3f  %s" % (ms, name))
    elif isinstance(value, float):
      print("%s: %.3f" % (key, value))
    else:
      print("%s: %s" % (key, value))
  sys.stdout.flush()


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--trace_steps", default="8,9,10",
                      help="step indices (0-based) to trace")
  parser.add_argument("--skip_steps", type=int, default=3,
                      help="first steps left out of the wall-clock figures")
  parser.add_argument("--trace_file", default=None, help="chrome trace of one traced step")
  parser.add_argument("--out", default=None, help="the report as JSON")
  parser.add_argument("--label", default=None)
  parser.add_argument("target", help="a script (run_pretraining.py) or google:NAME")
  parser.add_argument("flags", nargs=argparse.REMAINDER)
  args = parser.parse_args()
  flags = args.flags[1:] if args.flags[:1] == ["--"] else args.flags
  recorder = Recorder([int(s) for s in args.trace_steps.split(",") if s],
                      args.skip_steps, args.trace_file)
  patch(recorder)
  run_target(args.target, flags)
  result = recorder.report()
  print_report(result, args.label or args.target)
  if args.out:
    with open(args.out, "w") as handle:
      json.dump(result, handle, indent=1)


if __name__ == "__main__":
  main()
