# coding=utf-8
"""File I/O for every package: local or remote files, atomic writes, JSON, globs.

Every path may be local or name another file system with a URL scheme
(`gs://`, `ram://`, any that tf.io.gfile knows), as in Google's scripts
(`is_remote` is the one test). Local paths go through `open` and `os`, so
local runs and the generator's workers never import TensorFlow (memory,
start-up); other paths through tf.io.gfile, whose errors become OSError as
local ones are.

`write_atomically` writes under a temporary name (`<name>.tmp-<pid>-<random>`:
hosts that share a directory may have the same pids) and renames, so a killed
run leaves temporaries (TEMPORARY_MARK; the generator deletes its own) but
never a torn file. Bad files and flags raise errors.UserError naming them.
"""

import collections
import contextlib
import io
import glob as local_glob
import hashlib
import json
import os
import re
import uuid

from lert import errors

TEMPORARY_MARK = ".tmp-"
# tokenization.py reads the vocabulary of such paths through tf.io.gfile too.
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


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
  """A binary file object of `path` (a string or os.PathLike; mode "rb" or "wb")."""
  path = os.fspath(path)
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


def write_atomically(path, data):
  """Writes bytes (or an iterable of bytes) to `path` via a temporary file and
  a rename, so that `path` either does not exist or is complete.

  A failed write (a full disk) removes the temporary file and raises the
  OSError with `path` as its filename.
  """
  tmp = temporary_name(path)
  try:
    with open_file(tmp, "wb") as handle:
      if isinstance(data, bytes):
        handle.write(data)
      else:
        for chunk in data:
          handle.write(chunk)
      if not is_remote(path):
        handle.flush()
        os.fsync(handle.fileno())
  except OSError as e:
    try:
      remove(tmp)
    except OSError:
      pass  # never created, or the file system is gone: nothing to leave behind
    raise OSError(e.errno, e.strerror or str(e), path)
  if is_remote(path):
    _gfile("rename", tmp, path, overwrite=True)
  else:
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_text(path):
  """A text buffer whose contents appear at `path` (UTF-8) when the block ends
  without an error, and not at all otherwise (write_atomically)."""
  buffer = io.StringIO()
  yield buffer
  write_atomically(path, buffer.getvalue().encode("utf-8"))


def temporary_name(path):
  """A temporary name beside `path`, unique across processes and hosts."""
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


def ensure_parent_dir(path, flag):
  """Creates the directory of the file `path`, or raises a UserError naming `--flag`."""
  try:
    makedirs(os.path.dirname(path) or ".")
  except OSError as e:
    raise errors.UserError("--%s %s: its directory cannot be made: %s" % (flag, path, e))


def file_sha256(path):
  """The sha256 hex digest of a file's bytes."""
  digest = hashlib.sha256()
  with open_file(path) as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()
