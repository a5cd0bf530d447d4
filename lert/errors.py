"""One error path for every script: a user error is one `error: ...` line.

A user error is bad input that the user can fix: a flag, a file, a config, a
line of data. Library code raises `UserError` with a message that names the
flag, file, line or feature; `run_main` turns it into a single line on stderr
and exit status 2. Any other exception is a bug and keeps its
traceback.

`UserError` derives from `ValueError`, so callers that catch `ValueError` (and
tests written against it) keep working.

A full disk (or quota) is the user's to fix too, wherever it happens: a Python
OSError or a TensorFlow error ("<path>; No space left on device", from a
checkpoint, graph or summary write) ends the run with one line naming the file
and how to continue, and the temporary file TensorFlow was writing is removed
(the files under their final names are whole: every write is atomic).
"""

import errno
import os
import re
import shutil
import sys

# Exit status of a run stopped by a user error, a bad flag included (_parse_flags).
USER_ERROR_EXIT = 2


class UserError(ValueError):
  """Bad input: the message is for the user and names what to fix."""


def report(message):
  """Prints one `error: ...` line (newlines folded) to stderr."""
  text = " ".join(str(message).split("\n"))
  sys.stderr.write("error: %s\n" % text)
  sys.stderr.flush()


_NO_SPACE_REASONS = ("No space left on device", "Disk quota exceeded")
# TensorFlow's temporaries: "<file>.tmp<32 hex>" (atomic file writes) and the folder
# of a checkpoint being saved, "<prefix>_temp/..." (TF 2) or "<prefix>_temp_<32 hex>/..."
# (TF 1.15). Group 1 is the final name, group 2 the temporary to remove.
_TF_TEMP_FILE = re.compile(r"^((.*)\.tmp[0-9a-f]{32})$")
_TF_TEMP_DIR = re.compile(r"^((.*)_temp(?:_[0-9a-f]{32})?)/")


def out_of_space(exception):
  """(path, reason) when `exception` is a full disk or exceeded quota, else None."""
  if isinstance(exception, EnvironmentError) and exception.errno in (errno.ENOSPC,
                                                                     errno.EDQUOT):
    return exception.filename or "?", os.strerror(exception.errno)
  text = str(exception)
  for reason in _NO_SPACE_REASONS:
    found = re.search(r"(\S+); %s" % reason, text)
    if found:
      return found.group(1), reason
  return None


def _final_name(path):
  """The file (or checkpoint) a temporary `path` was written for; removes the
  temporary (TensorFlow leaves it behind when a write fails)."""
  for pattern, is_dir in ((_TF_TEMP_DIR, True), (_TF_TEMP_FILE, False)):
    found = pattern.match(path)
    if found:
      temporary, final = found.group(1), found.group(2)
      if "://" not in temporary:  # remote file systems keep no local leftovers
        if is_dir:
          shutil.rmtree(temporary, ignore_errors=True)
        elif os.path.isfile(temporary):
          os.remove(temporary)
      return final
  return path


def report_out_of_space(exception):
  """Reports a full disk as one error line; False for any other exception."""
  full = out_of_space(exception)
  if full is None:
    return False
  path, reason = full
  report("out of space writing %s (%s): free space and run the same command again; "
         "what was finished (checkpoints, shards, files) is kept and the run continues "
         "from it" % (_final_name(path), reason))
  return True


def _parse_flags(argv, known_only=False):
  """absl's flag parsing, with a bad flag reported as one error line."""
  from absl import flags
  try:
    return flags.FLAGS(argv, known_only=known_only)
  except flags.Error as e:
    report(e)
    sys.exit(USER_ERROR_EXIT)


def run_main(main, argv=None, known_only=False):
  """`absl.app.run(main)` where a UserError ends the run with one line.

  `known_only`: flags this program does not define reach `main` in its argv
  (create_pretraining_data.py hands them to Apache Beam) instead of failing.
  """
  from absl import app

  def guarded(args):
    try:
      return main(args)
    except UserError as e:
      report(e)
      sys.exit(USER_ERROR_EXIT)
    except Exception as e:  # pylint: disable=broad-except
      if report_out_of_space(e):
        sys.exit(USER_ERROR_EXIT)
      raise

  app.run(guarded, argv=argv,
          flags_parser=lambda args: _parse_flags(args, known_only=known_only))


def call_main(main, argv=None):
  """Runs a plain `main(argv)` (argparse scripts) with the same error path."""
  try:
    return main(argv)
  except UserError as e:
    report(e)
    return USER_ERROR_EXIT
  except Exception as e:  # pylint: disable=broad-except
    if report_out_of_space(e):
      return USER_ERROR_EXIT
    raise
