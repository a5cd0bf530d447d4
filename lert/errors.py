"""One error path for every script: a user error is one `error: ...` line.

A user error is bad input that the user can fix: a flag, a file, a config, a
line of data. Library code raises `UserError` (or a subclass) with a message
that names the flag, file, line or feature; `run_main` turns it into a single
line on stderr and exit status 2. Any other exception is a bug and keeps its
traceback.

`UserError` derives from `ValueError`, so callers that catch `ValueError` (and
tests written against it) keep working.
"""

import sys

# Exit status of a run stopped by a user error (absl's own flag errors use 1).
USER_ERROR_EXIT = 2


class UserError(ValueError):
  """Bad input: the message is for the user and names what to fix."""


def report(message):
  """Prints one `error: ...` line (newlines folded) to stderr."""
  text = " ".join(str(message).split("\n"))
  sys.stderr.write("error: %s\n" % text)
  sys.stderr.flush()


def _parse_flags(argv):
  """absl's flag parsing, with a bad flag reported as one error line."""
  from absl import flags
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    report(e)
    sys.exit(USER_ERROR_EXIT)


def run_main(main, argv=None):
  """`absl.app.run(main)` where a UserError ends the run with one line."""
  from absl import app

  def guarded(args):
    try:
      return main(args)
    except UserError as e:
      report(e)
      sys.exit(USER_ERROR_EXIT)

  app.run(guarded, argv=argv, flags_parser=_parse_flags)


def call_main(main, argv=None):
  """Runs a plain `main(argv)` (argparse scripts) with the same error path."""
  try:
    return main(argv)
  except UserError as e:
    report(e)
    return USER_ERROR_EXIT
