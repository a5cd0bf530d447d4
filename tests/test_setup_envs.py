"""scripts/setup_envs.sh: what each environment installs, CPU and GPU (GPU=1) builds."""

import os
import re
import subprocess

from conftest import REPO_ROOT


def requirements(env, gpu):
  environ = dict(os.environ, GPU="1" if gpu else "0")
  output = subprocess.check_output(
      ["bash", os.path.join(REPO_ROOT, "scripts", "setup_envs.sh"),
       "--print-requirements", env], env=environ, cwd=REPO_ROOT, universal_newlines=True)
  return [line for line in output.splitlines() if line and not line.startswith("#")]


def test_cpu_builds_install_the_cpu_tensorflow_and_the_included_files():
  assert "tensorflow-cpu==2.15.1" in requirements("tf2", gpu=False)
  latest = requirements("tf-latest", gpu=False)
  assert "tensorflow-cpu==2.21.0" in latest
  assert "jieba==0.42.1" in latest  # from colab.txt, included with -r
  assert not [line for line in latest if line.startswith("-r")]
  assert "tensorflow==1.15.5" in requirements("tf1", gpu=False)


def test_gpu_builds_swap_in_tensorflows_gpu_package_and_nothing_else():
  for env, cpu, gpu in (("tf2", "tensorflow-cpu==2.15.1", "tensorflow[and-cuda]==2.15.1"),
                        ("tf-latest", "tensorflow-cpu==2.21.0", "tensorflow[and-cuda]==2.21.0"),
                        ("tf1", "tensorflow==1.15.5", "tensorflow-gpu==1.15.5")):
    on_cpu, on_gpu = requirements(env, gpu=False), requirements(env, gpu=True)
    assert gpu in on_gpu and cpu not in on_gpu, env
    assert sorted(on_gpu) == sorted(gpu if line == cpu else line for line in on_cpu), env


def test_an_unknown_environment_is_a_usage_error():
  result = subprocess.run(["bash", os.path.join(REPO_ROOT, "scripts", "setup_envs.sh"),
                           "--print-requirements", "tf3"], cwd=REPO_ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
  assert result.returncode == 2 and "usage:" in result.stderr


def test_beam_is_pinned_in_tf2_only():
  """Beam (create_pretraining_data.py --runner) is in .venv-tf2, pinned with the
  protobuf TF 2.15 needs; no release fits .venv-tf-latest's numpy or Python 3.7."""
  tf2 = requirements("tf2", gpu=False)
  beam = [line for line in tf2 if line.startswith("apache-beam")]
  assert len(beam) == 1 and re.match(r"^apache-beam==\d+\.\d+\.\d+$", beam[0])
  protobuf = [line for line in tf2 if line.startswith("protobuf")]
  assert len(protobuf) == 1 and re.match(r"^protobuf==4\.", protobuf[0])
  for env in ("tf1", "tf-latest"):
    assert not [line for line in requirements(env, gpu=False)
                if line.startswith("apache-beam")], env
