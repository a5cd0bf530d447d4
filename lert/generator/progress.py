# coding=utf-8
"""The generator's work directories: "done" markers, leftovers, the log line.

The annotation cache and the output directory each keep, in `.progress/`,
one JSON file per finished shard (`<shard name>.json`: its integrity record
and statistics, shard_jobs.py). A shard without one is redone; a progress
file that does not parse is reported with RESTART_ADVICE. Temporaries that a
killed run left (fileio.TEMPORARY_MARK) are deleted by the next run: with
several hosts in one directory, each deletes only those of its own shards.
"""

import os
import sys

from lert import errors
from lert import fileio
from lert.records import record_schema

# Where each directory keeps its per-shard statistics ("done" markers).
PROGRESS_DIR = ".progress"
# What to do with a progress or plan file that does not parse.
RESTART_ADVICE = "delete it to start that part over"


def log(message):
  """One line of the generator's progress and reports on stderr."""
  sys.stderr.write("[create_pretraining_data] %s\n" % message)
  sys.stderr.flush()


def progress_path(directory, name):
  """The statistics file that marks the shard `name` in `directory` as done."""
  return os.path.join(directory, PROGRESS_DIR, name + ".json")


def read_progress(path):
  """A part's progress record, or None when the part is not done."""
  return fileio.read_json(path, advice=RESTART_ADVICE) if fileio.isfile(path) else None


def ensure_work_dir(path, flag):
  """Creates `path` and its `.progress/` and proves a file can be written
  there, or raises a UserError naming `--flag`."""
  try:
    fileio.makedirs(os.path.join(path, PROGRESS_DIR))
    probe = fileio.temporary_name(os.path.join(path, PROGRESS_DIR, ".write-test"))
    with fileio.open_file(probe, "wb") as handle:
      handle.write(b"ok")
    fileio.remove(probe)
  except OSError as e:
    raise errors.UserError("--%s %s is not writable: %s" % (flag, path, e))


def remove_stale_temporaries(path, owns_shard=None):
  """Deletes the temporary files a killed run left (they never look finished).

  With `owns_shard` (one host of several sharing `path`), only those of the
  shards it owns: another host's may be in the middle of being written.
  """
  for directory in (path, os.path.join(path, PROGRESS_DIR)):
    for name in fileio.listdir(directory) if fileio.isdir(directory) else ():
      if fileio.TEMPORARY_MARK not in name:
        continue
      if owns_shard is not None:
        shard = record_schema.parse_shard_name(name.split(fileio.TEMPORARY_MARK)[0])
        if shard is None or not owns_shard(shard.index):
          continue
      fileio.remove(os.path.join(directory, name))
