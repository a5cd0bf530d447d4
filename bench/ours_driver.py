"""Runs one of this project's scripts with a graph choice overridden, for benchmarks.

Usage: python bench/ours_driver.py [--fuse_qkv=0|1] SCRIPT.py [the script's flags]

`--fuse_qkv` sets modeling's fused query/key/value matmul (its default depends on the
TensorFlow version) before the script builds a graph, so that bench_vs_google.py can
measure both choices in every environment without a flag in the scripts themselves.
"""

import os
import runpy
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
  args = sys.argv[1:]
  fuse = None
  while args and args[0].startswith("--fuse_qkv="):
    fuse = args.pop(0).split("=", 1)[1] in ("1", "true", "True")
  if not args:
    raise SystemExit(__doc__)
  script = os.path.join(REPO_ROOT, args[0])
  sys.path.insert(0, REPO_ROOT)
  if fuse is not None:
    import modeling
    modeling._FUSE_QKV = fuse
  sys.argv = [script] + args[1:]
  runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
  main()
