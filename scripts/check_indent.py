"""Checks that every indented block of the given Python files is 2 spaces deeper.

ruff (`make lint`) checks everything else; its indentation rules only know
multiples of 4. Usage: python scripts/check_indent.py FILE_OR_DIR ...
Prints `path:line: ...` for each offending block and exits 1 if there is one.
"""

import os
import sys
import tokenize

INDENT = 2
SKIP_DIRS = {".git", ".cache", "demo_output", "output", "__pycache__"}


def python_files(paths):
  for path in paths:
    if os.path.isfile(path):
      yield path
      continue
    for root, dirs, files in os.walk(path):
      dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".venv"))
      for name in sorted(files):
        if name.endswith(".py"):
          yield os.path.join(root, name)


def bad_indents(path):
  """Yields (line, message) for every INDENT token that is not one level deeper."""
  depths = [0]
  with tokenize.open(path) as source:
    for token in tokenize.generate_tokens(source.readline):
      if token.type == tokenize.INDENT:
        width = len(token.string.expandtabs(8))
        if "\t" in token.string:
          yield token.start[0], "tab in indentation"
        elif width != depths[-1] + INDENT:
          yield token.start[0], "indented %d spaces, expected %d" % (
              width - depths[-1], INDENT)
        depths.append(width)
      elif token.type == tokenize.DEDENT:
        depths.pop()


def main(argv):
  failures = 0
  for path in python_files(argv[1:] or ["."]):
    for line, message in bad_indents(path):
      print("%s:%d: %s" % (path, line, message))
      failures += 1
  return 1 if failures else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
