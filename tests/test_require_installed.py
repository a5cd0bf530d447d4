"""tests/require_installed.py: under CI a skip cannot hide a package the environment installs."""

import os
import subprocess
import sys

import require_installed

REQUIREMENTS = os.path.join(require_installed.REPO_ROOT, "requirements")


def test_each_environment_requires_what_its_requirements_install():
  tf1 = require_installed.required_modules(os.path.join(REQUIREMENTS, "tf1.txt"))
  tf2 = require_installed.required_modules(os.path.join(REQUIREMENTS, "tf2.txt"))
  latest = require_installed.required_modules(os.path.join(REQUIREMENTS, "tf-latest.txt"))
  assert {"torch", "transformers", "safetensors", "ltp", "ltp_extension", "snownlp"} <= tf2
  assert {"tensorflow", "snownlp", "bert", "jieba"} <= tf1 and "torch" not in tf1
  # tf-latest includes colab.txt with -r.
  assert {"tensorflow", "ltp_extension", "snownlp", "nbclient"} <= latest
  assert "torch" not in latest
  assert require_installed.requirements_file("/x/.venv-tf2").endswith("tf2.txt")
  assert require_installed.requirements_file("/usr") is None


def _run_pytest(tmp_path, env):
  test_file = tmp_path / "test_needs_package.py"
  test_file.write_text(
      "import pytest\n\n"
      "def test_needs_it():\n"
      "  pytest.importorskip('lert_package_that_is_not_installed')\n")
  run_env = dict(os.environ, PYTHONPATH=os.path.dirname(require_installed.__file__),
                 LERT_REQUIRED_MODULES="lert_package_that_is_not_installed", **env)
  return subprocess.run(
      [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "require_installed",
       "-p", "no:cacheprovider", str(test_file)],
      cwd=str(tmp_path), env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      universal_newlines=True)


def test_under_ci_a_skip_for_a_required_package_fails(tmp_path):
  result = _run_pytest(tmp_path, {"CI": "true"})
  assert result.returncode == 1, result.stdout
  assert "1 failed" in result.stdout
  assert "a broken install, not an optional package" in result.stdout


def test_outside_ci_the_same_test_skips_with_its_reason(tmp_path):
  result = _run_pytest(tmp_path, {"CI": "false"})
  assert result.returncode == 0, result.stdout
  assert "1 skipped" in result.stdout
  assert "could not import 'lert_package_that_is_not_installed'" in result.stdout
