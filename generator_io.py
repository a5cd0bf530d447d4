# coding=utf-8
"""The data generator's user error and its small file helpers.

Every file the generator leaves under its final name is complete: it is
written under a temporary name (`<name>.tmp-<pid>-<random>`: hosts that share
a directory may have the same pids) and renamed, so a killed run leaves
temporaries (deleted by the next run) but never a torn file.
"""

import hashlib
import json
import os
import re
import sys
import uuid

import errors

# Where each directory keeps its per-shard statistics ("done" markers).
PROGRESS_DIR = ".progress"
TEMPORARY_MARK = ".tmp-"
# The shard number in the name of a cache or output shard (or its progress file).
_SHARD_NUMBER = re.compile(r"-(\d{5})-of-\d{5}\.")


class DataError(errors.UserError):
  """Bad input, options or files: the message names what to fix."""


def output_name(index, count):
  """The file name of output shard `index` of `count`."""
  return "pretraining-%05d-of-%05d.tfrecord" % (index, count)


def progress_path(directory, name):
  """The statistics file that marks the shard `name` in `directory` as done."""
  return os.path.join(directory, PROGRESS_DIR, name + ".json")


def log(message):
  sys.stderr.write("[create_pretraining_data] %s\n" % message)
  sys.stderr.flush()


def write_atomically(path, data):
  """Writes bytes (or an iterable of bytes) to `path` via a temporary file and
  a rename, so that `path` either does not exist or is complete."""
  tmp = _temporary_name(path)
  with open(tmp, "wb") as handle:
    if isinstance(data, bytes):
      handle.write(data)
    else:
      for chunk in data:
        handle.write(chunk)
    handle.flush()
    os.fsync(handle.fileno())
  os.replace(tmp, path)


def _temporary_name(path):
  return "%s%s%d-%s" % (path, TEMPORARY_MARK, os.getpid(), uuid.uuid4().hex[:8])


def json_bytes(value):
  return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) +
          "\n").encode("utf-8")


def read_json(path):
  try:
    with open(path, encoding="utf-8") as handle:
      return json.load(handle)
  except ValueError as e:
    raise DataError("%s: not valid JSON (%s); delete it to start that part over"
                    % (path, e))


def ensure_writable_dir(path, flag):
  """Creates `path` and proves a file can be written there, or raises DataError."""
  try:
    os.makedirs(os.path.join(path, PROGRESS_DIR), exist_ok=True)
    probe = _temporary_name(os.path.join(path, PROGRESS_DIR, ".write-test"))
    with open(probe, "wb") as handle:
      handle.write(b"ok")
    os.remove(probe)
  except OSError as e:
    raise DataError("--%s %s is not writable: %s" % (flag, path, e))


def ensure_parent_dir(path, flag):
  """Creates the directory of the file `path`, or raises DataError."""
  try:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  except OSError as e:
    raise DataError("--%s %s: its directory cannot be made: %s" % (flag, path, e))


def remove_stale_temporaries(path, owns_shard=None):
  """Deletes the temporary files a killed run left (they never look finished).

  With `owns_shard` (one host of several sharing `path`), only those of the
  shards it owns: another host's may be in the middle of being written.
  """
  for directory in (path, os.path.join(path, PROGRESS_DIR)):
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
      if TEMPORARY_MARK not in name:
        continue
      if owns_shard is not None:
        number = _SHARD_NUMBER.search(name.split(TEMPORARY_MARK)[0] + ".")
        if number is None or not owns_shard(int(number.group(1))):
          continue
      os.remove(os.path.join(directory, name))


def file_sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()
