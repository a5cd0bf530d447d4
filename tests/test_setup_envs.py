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


def test_beam_is_pinned_in_the_python_3_11_and_3_12_environments():
  """Beam (create_pretraining_data.py --runner) is pinned in .venv-tf2 with the protobuf
  TF 2.15 needs, and in .venv-tf-latest with the numpy and protobuf both TF 2.21 and
  Beam accept; Python 3.7 (.venv-tf1) has no current Beam."""
  pins = {}
  for env, protobuf_major in (("tf2", "4"), ("tf-latest", "6")):
    lines = requirements(env, gpu=False)
    beam = [line for line in lines if line.startswith("apache-beam")]
    assert len(beam) == 1 and re.match(r"^apache-beam==\d+\.\d+\.\d+$", beam[0]), env
    protobuf = [line for line in lines if line.startswith("protobuf")]
    assert len(protobuf) == 1 and protobuf[0].startswith("protobuf==%s." % protobuf_major)
    pins[env] = beam[0]
  numpy = [line for line in requirements("tf-latest", gpu=False) if line.startswith("numpy")]
  assert numpy and numpy[0].startswith("numpy==2.4."), numpy  # Beam: numpy<2.5
  assert not [line for line in requirements("tf1", gpu=False)
              if line.startswith("apache-beam")]
