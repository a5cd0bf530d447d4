# coding=utf-8
"""Runs the generator's shard jobs: in this process or in worker processes.

Workers are spawned, not forked (the parent may hold threads, and a fresh
interpreter is the same on every platform), and take whole shards. Progress,
with rate and ETA in input megabytes, goes to stderr. A worker that dies (e.g.
killed for memory) stops the run with a message; finished shards are kept.
A file a job cannot read or write stops the run with a UserError naming it,
in a worker as in this process (`_run_job`); a full disk stays an OSError
(errno and file name kept) for errors.report_out_of_space.
"""

import concurrent.futures
import concurrent.futures.process
import multiprocessing
import os
import threading
import time

from lert import errors
from lert.generator import progress
from lert.generator import shard_jobs


# The worker state of a pool process (set by its initializer).
_PROCESS_WORKER = None


def _init_pool_worker(config, queue, parent_pid):
  global _PROCESS_WORKER
  state = {"last": 0.0}

  def report(job, fraction):
    # An orphan (the parent was killed) stops instead of racing a re-run.
    if os.getppid() != parent_pid:
      os._exit(1)
    now = time.time()
    if fraction >= 1.0 or now - state["last"] > 0.5:
      state["last"] = now
      queue.put((job.index, fraction))
  _PROCESS_WORKER = shard_jobs.Worker(config, report)


def _run_job(worker, job):
  """shard_jobs.run_job, an OSError other than a full disk made a UserError."""
  try:
    return shard_jobs.run_job(worker, job)
  except OSError as e:
    if errors.out_of_space(e):
      raise
    raise errors.UserError(str(e))


def _pool_job(job):
  # Its exception reaches the parent through the future (pickled: a UserError
  # keeps its message, an OSError its errno and file name).
  return _run_job(_PROCESS_WORKER, job)


class _Progress(object):
  """Rate and ETA on stderr, in input megabytes."""

  def __init__(self, label, jobs, interval=5.0):
    self.label = label
    self.sizes = {job.index: job.bytes for job in jobs}
    self.total = float(max(1, sum(self.sizes.values())))
    self.fractions = {}
    self.done = 0
    self.count = len(jobs)
    self.started = time.time()
    self.interval = interval
    self.last_print = 0.0
    self.lock = threading.Lock()

  def update(self, index, fraction):
    with self.lock:
      self.fractions[index] = max(self.fractions.get(index, 0.0), fraction)
      if fraction >= 1.0:
        self.done += 1
      now = time.time()
      if now - self.last_print >= self.interval or self.done == self.count:
        self.last_print = now
        self._print(now)

  def _print(self, now):
    done_bytes = sum(self.sizes[i] * f for i, f in self.fractions.items())
    elapsed = max(1e-6, now - self.started)
    rate = done_bytes / elapsed
    remaining = (self.total - done_bytes) / rate if rate > 0 else float("inf")
    eta = ("%d:%02d:%02d" % (remaining // 3600, remaining % 3600 // 60,
                             remaining % 60)) if remaining != float("inf") else "?"
    speed = ("%.2f MB/s" % (rate / 1e6)) if rate >= 1e5 else ("%.1f KB/s" % (rate / 1e3))
    progress.log("%s: %d/%d shards, %.2f/%.2f MB (%.0f%%), %s, ETA %s" % (
        self.label, self.done, self.count, done_bytes / 1e6, self.total / 1e6,
        100.0 * done_bytes / self.total, speed, eta))


def execute_jobs(jobs, worker_config, num_workers, label):
  """Runs jobs in-process (1 worker) or in worker processes; returns results."""
  meter = _Progress(label, jobs)
  results = []
  if num_workers == 1 or len(jobs) <= 1:
    worker = shard_jobs.Worker(
        worker_config, lambda job, fraction: meter.update(job.index, fraction))
    for job in jobs:
      results.append(_run_job(worker, job))
    return results
  context = multiprocessing.get_context("spawn")
  queue = context.Queue()
  stop = threading.Event()

  def drain():
    while not stop.is_set():
      try:
        index, fraction = queue.get(timeout=0.2)
      except Exception:  # pylint: disable=broad-except
        continue  # queue.Empty
      meter.update(index, fraction)
  thread = threading.Thread(target=drain)
  thread.daemon = True
  thread.start()
  # ProcessPoolExecutor, unlike multiprocessing.Pool, notices a worker that
  # dies (e.g. killed for memory) instead of waiting for it forever.
  executor = concurrent.futures.ProcessPoolExecutor(
      min(num_workers, len(jobs)), mp_context=context,
      initializer=_init_pool_worker, initargs=(worker_config, queue, os.getpid()))
  futures = {executor.submit(_pool_job, job): job for job in jobs}
  try:
    for future in concurrent.futures.as_completed(futures):
      try:
        result = future.result()
      except concurrent.futures.process.BrokenProcessPool:
        raise errors.UserError("a worker process died (killed, or out of memory?) "
                               "while making shard %d; finished shards are kept: run "
                               "again to resume" % futures[future].index)
      results.append(result)
  finally:
    for future in futures:
      future.cancel()
    executor.shutdown(wait=True)
    stop.set()
    thread.join()
  return results
