"""pytest plugin: under CI, a skip for a package the environment installs is a failure.

Tests skip (`pytest.importorskip`) when an optional package is missing, which is
right in an environment whose requirements leave it out (torch in .venv-tf1) and
wrong where they install it: there a broken install would show as skips and the
run would stay green. With CI=true, a skip whose reason is a failed import of a
module that this environment's requirements file installs fails the test.

The environment is the virtualenv's folder name (`.venv-tf2` -> requirements/tf2.txt,
with the files it includes by `-r`); LERT_REQUIRED_MODULES adds module names
(comma-separated), for testing this plugin.
"""

import importlib
import os
import re
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Distribution name -> the module a test imports, where the two differ.
_MODULE_OF = {"ltp-extension": "ltp_extension", "bert-tensorflow": "bert",
              "tensorflow-cpu": "tensorflow", "ltp-core": "ltp_core"}
_IMPORT_SKIP = re.compile(r"could not import '([\w.]+)'")


def requirements_file(prefix=None):
  """The requirements file of the virtualenv at `prefix` (None: not one of ours)."""
  name = os.path.basename(os.path.normpath(prefix or sys.prefix))
  if not name.startswith(".venv-"):
    return None
  path = os.path.join(REPO_ROOT, "requirements", name[len(".venv-"):] + ".txt")
  return path if os.path.isfile(path) else None


def required_modules(path):
  """Top-level module names of the packages `path` (and its -r includes) installs."""
  modules = set()
  with open(path) as handle:
    for line in handle:
      line = line.split("#", 1)[0].strip()
      if line.startswith("-r "):
        modules |= required_modules(os.path.join(os.path.dirname(path), line[3:].strip()))
      elif line:
        name = re.split(r"[<>=!~\[; ]", line, 1)[0].lower()
        modules.add(_MODULE_OF.get(name, name.replace("-", "_")))
  return modules


def _required():
  path = requirements_file()
  modules = required_modules(path) if path else set()
  extra = os.environ.get("LERT_REQUIRED_MODULES", "")
  modules |= set(m.strip() for m in extra.split(",") if m.strip())
  return modules, path or "LERT_REQUIRED_MODULES"


def optional_import(module):
  """The module, or None where it is not installed, for a test that works both ways.

  Under CI, a module that this environment's requirements install must import:
  a failure then fails the test instead of taking the branch for its absence.
  """
  try:
    return importlib.import_module(module)
  except ImportError as error:
    modules, source = _required()
    if os.environ.get("CI") == "true" and module.split(".")[0] in modules:
      pytest.fail("%s is installed by %s, but cannot be imported (%s): a broken install" %
                  (module, source, error))
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
  outcome = yield
  report = outcome.get_result()
  if os.environ.get("CI") != "true" or not report.skipped or call.excinfo is None:
    return
  found = _IMPORT_SKIP.search(str(call.excinfo.value))
  if not found:
    return
  modules, source = _required()
  if found.group(1).split(".")[0] in modules:
    report.outcome = "failed"
    report.longrepr = ("%s is installed by %s, but the test could not import it (%s): "
                       "a broken install, not an optional package" % (
                           found.group(1), os.path.relpath(source, REPO_ROOT)
                           if os.path.isabs(source) else source, call.excinfo.value))
