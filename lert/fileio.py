# coding=utf-8
"""The data generator's user error and its small file helpers.

Every path may be local or name another file system with a URL scheme
(`gs://`, `ram://`, any that tf.io.gfile knows), as in Google's scripts. Local
paths go through `open` and `os`, so local runs and workers never import
TensorFlow (memory, start-up); other paths through tf.io.gfile, whose errors
become OSError as local ones are.

Every file the generator leaves under its final name is complete: it is
written under a temporary name (`<name>.tmp-<pid>-<random>`: hosts that share
a directory may have the same pids) and renamed, so a killed run leaves
temporaries (deleted by the next run) but never a torn file.
"""

import collections
import contextlib
import glob as local_glob
import hashlib
import json
import os
import re
import sys
import uuid

from lert import errors
# Where each directory keeps its per-shard statistics ("done" markers).
PROGRESS_DIR = ".progress"
TEMPORARY_MARK = ".tmp-"
# What to do with a progress or plan file that does not parse.
RESTART_ADVICE = "delete it to start that part over"
# The shard number in the name of a cache or output shard (or its progress file).
_SHARD_NUMBER = re.compile(r"-(\d{5})-of-\d{5}\.")
# tokenization.py reads the vocabulary of such paths through tf.io.gfile too.
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class DataError(errors.UserError):
  """Bad input, options or files: the message names what to fix."""


def output_name(index, count):
  """The file name of output shard `index` of `count`."""
  return "pretraining-%05d-of-%05d.tfrecord" % (index, count)


def progress_path(directory, name):
  """The statistics file that marks the shard `name` in `directory` as done."""
  return os.path.join(directory, PROGRESS_DIR, name + ".json")


# --- Files: local through os, other schemes through tf.io.gfile --------------------------


def is_remote(path):
  """Does `path` name a file system of TensorFlow's (gs://, ram://, ...)?"""
  return _URL_SCHEME.match(path) is not None


def _tensorflow():
  import tensorflow.compat.v1 as tf  # only for remote paths: see the docstring
  return tf


def _gfile(function, *args, **kwargs):
  """Calls tf.io.gfile.<function>; its errors are raised as OSError."""
  tf = _tensorflow()
  try:
    return getattr(tf.io.gfile, function)(*args, **kwargs)
  except tf.errors.OpError as e:
    raise OSError(e.message)


@contextlib.contextmanager
def open_file(path, mode="rb"):
  """A binary file object of `path` (mode "rb" or "wb")."""
  if not is_remote(path):
    with open(path, mode) as handle:
      yield handle
    return
  tf = _tensorflow()
  try:
    with tf.io.gfile.GFile(path, mode) as handle:
      yield handle
  except tf.errors.OpError as e:
    raise OSError("%s: %s" % (path, e.message))


def read_bytes(path):
  with open_file(path) as handle:
    return handle.read()


def isfile(path):
  if not is_remote(path):
    return os.path.isfile(path)
  try:  # one request; and ram:// calls any prefix of a file name a directory
    return not _gfile("stat", path).is_directory
  except OSError:  # not found
    return False


def isdir(path):
  return _gfile("isdir", path) if is_remote(path) else os.path.isdir(path)


def getsize(path):
  return _gfile("stat", path).length if is_remote(path) else os.path.getsize(path)


def mtime_ns(path):
  return _gfile("stat", path).mtime_nsec if is_remote(path) else os.stat(path).st_mtime_ns


def makedirs(path):
  if is_remote(path):
    _gfile("makedirs", path)
  else:
    os.makedirs(path, exist_ok=True)


def listdir(path):
  if is_remote(path):
    return [name.rstrip("/") for name in _gfile("listdir", path)]
  return os.listdir(path)


def remove(path):
  if is_remote(path):
    _gfile("remove", path)
  else:
    os.remove(path)


def glob(pattern):
  """The paths matching `pattern` (local ones with ~ expanded), sorted."""
  if is_remote(pattern):
    return sorted(_gfile("glob", pattern))
  return sorted(local_glob.glob(os.path.expanduser(pattern)))


def absolute(path):
  return path if is_remote(path) else os.path.abspath(path)


def log(message):
  sys.stderr.write("[create_pretraining_data] %s\n" % message)
  sys.stderr.flush()


def write_atomically(path, data):
  """Writes bytes (or an iterable of bytes) to `path` via a temporary file and
  a rename, so that `path` either does not exist or is complete."""
  tmp = _temporary_name(path)
  with open_file(tmp, "wb") as handle:
    if isinstance(data, bytes):
      handle.write(data)
    else:
      for chunk in data:
        handle.write(chunk)
    if not is_remote(path):
      handle.flush()
      os.fsync(handle.fileno())
  if is_remote(path):
    _gfile("rename", tmp, path, overwrite=True)
  else:
    os.replace(tmp, path)


def _temporary_name(path):
  return "%s%s%d-%s" % (path, TEMPORARY_MARK, os.getpid(), uuid.uuid4().hex[:8])


def json_bytes(value):
  return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) +
          "\n").encode("utf-8")


def read_json(path, what="file", advice=None, ordered=False):
  """The JSON value in `path` (local or remote); a UserError names the file.

  `what` says what the file is ("sidecar", "config"); `advice` is added to
  the message of a file that exists but does not parse; `ordered` keeps the
  order of object keys (OrderedDict).
  """
  try:
    data = read_bytes(path)
  except (IOError, OSError) as e:
    raise errors.UserError("cannot read the %s %s: %s" % (
        what, path, getattr(e, "strerror", None) or e))
  hook = collections.OrderedDict if ordered else None
  try:
    return json.loads(data.decode("utf-8-sig"), object_pairs_hook=hook)
  except UnicodeDecodeError as e:
    raise errors.UserError("%s: the %s is not UTF-8 (%s)" % (path, what, e.reason))
  except ValueError as e:
    raise errors.UserError("%s: the %s is not valid JSON (%s)%s" % (
        path, what, e, "; " + advice if advice else ""))


def expand_patterns(patterns, flag):
  """Comma-separated globs (or a list of them) -> the files they match.

  Each pattern's matches are sorted; a file matched twice is kept once, in
  its first place. A pattern that matches nothing, or matches a directory,
  is a UserError naming `--flag`.
  """
  if isinstance(patterns, str):
    patterns = patterns.split(",")
  files = []
  for pattern in [p.strip() for p in patterns if p.strip()]:
    matches = glob(pattern)
    if not matches:
      raise errors.UserError("--%s %s: no such file (the pattern matched nothing)"
                             % (flag, pattern))
    for match in matches:
      if isdir(match):
        raise errors.UserError("--%s %s is a directory; give files or globs "
                               "such as %s/*" % (flag, match, match.rstrip("/")))
      if match not in files:
        files.append(match)
  if not files:
    raise errors.UserError("--%s names no file" % flag)
  return files


def ensure_writable_dir(path, flag):
  """Creates `path` and proves a file can be written there, or raises DataError."""
  try:
    makedirs(os.path.join(path, PROGRESS_DIR))
    probe = _temporary_name(os.path.join(path, PROGRESS_DIR, ".write-test"))
    with open_file(probe, "wb") as handle:
      handle.write(b"ok")
    remove(probe)
  except OSError as e:
    raise DataError("--%s %s is not writable: %s" % (flag, path, e))


def ensure_parent_dir(path, flag):
  """Creates the directory of the file `path`, or raises DataError."""
  try:
    makedirs(os.path.dirname(path) or ".")
  except OSError as e:
    raise DataError("--%s %s: its directory cannot be made: %s" % (flag, path, e))


def remove_stale_temporaries(path, owns_shard=None):
  """Deletes the temporary files a killed run left (they never look finished).

  With `owns_shard` (one host of several sharing `path`), only those of the
  shards it owns: another host's may be in the middle of being written.
  """
  for directory in (path, os.path.join(path, PROGRESS_DIR)):
    for name in listdir(directory) if isdir(directory) else ():
      if TEMPORARY_MARK not in name:
        continue
      if owns_shard is not None:
        number = _SHARD_NUMBER.search(name.split(TEMPORARY_MARK)[0] + ".")
        if number is None or not owns_shard(int(number.group(1))):
          continue
      remove(os.path.join(directory, name))


def file_sha256(path):
  digest = hashlib.sha256()
  with open_file(path) as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()
