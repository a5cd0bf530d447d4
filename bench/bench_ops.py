"""Single ops of the training step, ours against the stock alternative, alternating.

Each case builds both variants, runs each `--iters` times per round after a
warm-up, and alternates them for `--rounds` rounds; it prints the median time
of each and their ratio per round. Forward and backward are timed together,
as training runs them.

- dropout: modeling.dropout (16 random bits a unit) against tf.nn.dropout, on
  an attention-probability tensor [batch, heads, seq, seq] at rate 0.1;
- gelu: modeling.gelu (x * 1/sqrt(2)) against the division x / sqrt(2);
- remapper: four dense pairs [batch*seq, hidden] -> 4*hidden -> hidden with
  grappler's remapper (MatMul+BiasAdd fusion) on and off.

  taskset -c 1 .venv-tf1/bin/python bench/bench_ops.py
  taskset -c 1 .venv-tf2/bin/python bench/bench_ops.py --cases dropout,gelu
"""

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

from tensorflow.core.protobuf import rewriter_config_pb2  # noqa: E402

import modeling  # noqa: E402


def _dropout_graph(variant, args):
  shape = [args.batch, args.heads, args.seq, args.seq]
  x = tf.placeholder(tf.float32, shape)
  if variant == "ours":
    y = modeling.dropout(x, 0.1)
  else:
    y = tf.nn.dropout(x, rate=0.1)
  grad = tf.gradients(tf.reduce_sum(y * y), x)[0]
  return {x: np.random.rand(*shape).astype(np.float32)}, tf.reduce_sum(grad), None


def _gelu_graph(variant, args):
  shape = [args.batch * args.seq, 4 * args.hidden]
  x = tf.placeholder(tf.float32, shape)
  if variant == "ours":
    y = modeling.gelu(x)
  else:
    y = 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))
  grad = tf.gradients(tf.reduce_sum(y), x)[0]
  return {x: np.random.randn(*shape).astype(np.float32)}, tf.reduce_sum(grad), None


def _remapper_graph(variant, args):
  rows, hidden = args.batch * args.seq, args.hidden
  x = tf.placeholder(tf.float32, [rows, hidden])
  h, weights = x, []
  for i in range(4):
    up = tf.get_variable("up_%d" % i, [hidden, 4 * hidden])
    up_bias = tf.get_variable("up_bias_%d" % i, [4 * hidden])
    down = tf.get_variable("down_%d" % i, [4 * hidden, hidden])
    down_bias = tf.get_variable("down_bias_%d" % i, [hidden])
    h = tf.nn.bias_add(tf.matmul(tf.nn.bias_add(tf.matmul(h, up), up_bias), down), down_bias)
    weights += [up, up_bias, down, down_bias]
  grads = tf.gradients(tf.reduce_sum(h * h), weights)
  config = tf.ConfigProto()
  if variant != "ours":
    config.graph_options.rewrite_options.remapping = rewriter_config_pb2.RewriterConfig.OFF
  feed = {x: np.random.randn(rows, hidden).astype(np.float32)}
  return feed, tf.add_n([tf.reduce_sum(g) for g in grads]), config


CASES = {
    "dropout": (_dropout_graph, "modeling.dropout", "tf.nn.dropout"),
    "gelu": (_gelu_graph, "modeling.gelu", "x / sqrt(2)"),
    "remapper": (_remapper_graph, "remapper on", "remapper off"),
}


def time_variant(case, variant, args):
  """Median milliseconds of one forward+backward run of `variant`."""
  graph = tf.Graph()
  with graph.as_default():
    tf.set_random_seed(1)
    feed, fetch, config = CASES[case][0](variant, args)
    config = config or tf.ConfigProto()
    config.inter_op_parallelism_threads = 1
    init = tf.global_variables_initializer()
  with tf.Session(graph=graph, config=config) as session:
    session.run(init)
    for _ in range(args.warmup):
      session.run(fetch, feed)
    times = []
    for _ in range(args.iters):
      start = time.perf_counter()
      session.run(fetch, feed)
      times.append(1000.0 * (time.perf_counter() - start))
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--cases", default=",".join(CASES))
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--iters", type=int, default=10)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--heads", type=int, default=4)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--hidden", type=int, default=256)
  args = parser.parse_args()
  cases = args.cases.split(",")
  unknown = [case for case in cases if case not in CASES]
  if unknown:
    raise SystemExit("error: --cases: unknown %s (known: %s)" % (
        ", ".join(unknown), ", ".join(CASES)))
  print("bench_ops: TensorFlow %s, batch %d, heads %d, seq %d, hidden %d, %d rounds of %d runs"
        % (tf.__version__, args.batch, args.heads, args.seq, args.hidden, args.rounds,
           args.iters))
  for case in cases:
    _, ours_name, stock_name = CASES[case]
    ours, stock = [], []
    for _ in range(args.rounds):
      ours.append(time_variant(case, "ours", args))
      stock.append(time_variant(case, "stock", args))
    ratios = ["%.2f" % (s / o) for o, s in zip(ours, stock)]
    print("  %-8s %-17s %7.2f ms | %-14s %7.2f ms | speed-up per round %s" % (
        case, ours_name, statistics.median(ours), stock_name, statistics.median(stock),
        " ".join(ratios)))
    sys.stdout.flush()


if __name__ == "__main__":
  main()
