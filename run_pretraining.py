# coding=utf-8
"""LERT pretraining: MLM plus POS/NER/DEP heads under the LIP schedule.

Runs through TPUEstimator on TPU, GPU and CPU (and tf.distribute strategies for
several GPUs or machines).  Every flag of LERT's released `run.pretrain.sh`
keeps its name and meaning; the LIP end steps, the optimizer, gradient
accumulation, XLA, mixed precision, distribution and prediction are new.

  python run_pretraining.py --input_file=data/*.tfrecord --output_dir=out \
    --bert_config_file=lert_config.json --do_train --do_eval \
    --train_batch_size=1024 --max_seq_length=512 --max_predictions_per_seq=75 \
    --num_train_steps=2000000 --num_warmup_steps=10000 --learning_rate=1e-4

Resume versus warm start: if `output_dir` already holds a checkpoint, training
resumes from it (step, weights and optimizer state) and `init_checkpoint` is
ignored; otherwise `init_checkpoint` (a LERT or Google-BERT-family checkpoint)
initialises every variable it has under the same name and shape.
"""

import collections
import io
import json
import os

from absl import flags
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert import errors
from lert.engine import estimator_utils
from lert import linguistics
import modeling
import optimization
from lert.pretrain import pretraining_data
from lert import settings
import tokenization

Setting = settings.Setting

# Every pretraining setting but the runtime ones (settings.RUNTIME_SETTINGS).
SETTINGS = (
    # Flags of the released run.pretrain.sh (names and meanings unchanged).
    Setting("bert_config_file", "string", None, "Model config JSON (lert_config.json)."),
    Setting("input_file", "string", None,
            "Comma-separated globs of TFRecords from create_pretraining_data.py."),
    Setting("output_dir", "string", None, "Where checkpoints and results are written."),
    Setting("init_checkpoint", "string", None,
            "Warm start from a LERT or BERT-family checkpoint (prefix or dir)."),
    Setting("max_seq_length", "integer", 512, "Sequence length of the data."),
    Setting("max_predictions_per_seq", "integer", 75, "Masked positions per sequence."),
    Setting("do_train", "bool", False, "Train."),
    Setting("do_eval", "bool", False, "Evaluate every head on the input files."),
    Setting("do_lower_case", "bool", True, "Lower-case text when predicting."),
    Setting("train_batch_size", "integer", 32, "Global training batch size."),
    Setting("eval_batch_size", "integer", 8, "Global evaluation batch size."),
    Setting("learning_rate", "float", 1e-4, "Peak learning rate."),
    Setting("num_train_steps", "integer", 100000, "Optimizer updates to train for."),
    Setting("num_warmup_steps", "integer", 10000, "Linear warm-up updates."),
    Setting("max_eval_steps", "integer", 100, "Maximum evaluation batches."),
    Setting("eval_all_checkpoints", "bool", False,
            "With --do_eval: evaluate every checkpoint kept in output_dir, oldest "
            "first (a learning curve: eval_history.jsonl, a line per checkpoint); "
            "eval_results.txt holds the latest."),
    # New flags.
    Setting("seed", "integer", None,
            "Seed of initialisation, dropout and data order, for runs that repeat "
            "exactly (default: none, as in Google's script)."),
    Setting("linguistic_tasks", "list", list(linguistics.TASKS),
            "Linguistic heads to train (empty: MLM only). Tasks the data's "
            "sidecar marks unlabelled are switched off whatever this says."),
    Setting("data_sidecar", "string", None,
            "Sidecar JSON of the data (default: found beside the input files)."),
    Setting("labelled_tasks", "list", None,
            "What the input files label (e.g. pos,ner; empty: none) when no "
            "sidecar describes them; with a sidecar it must agree. Never assumed."),
    Setting("check_data_contents", "bool", True,
            "Before training, read every input byte (record framing, CRCs, sha256 "
            "against the sidecar); False checks only the set of shards and sizes."),
) + tuple(
    # --pos_end_step, --ner_end_step, --dep_end_step
    Setting("%s_end_step" % task, "integer", linguistics.PAPER_LIP_END_STEPS[task],
            "LIP: step at which the %s loss reaches full weight (0: from step 0)." %
            task.upper()) for task in linguistics.TASKS
) + (
    Setting("do_predict", "bool", False,
            "Predict MLM top-k and POS/NER/DEP tags at masked positions."),
    Setting("predict_input_file", "string", None,
            "Text file: one sentence per line, with [MASK] where to predict "
            "(or plain sentences with --mask_each_word)."),
    Setting("predict_output_file", "string", None,
            "JSONL output (default: output_dir/predictions.jsonl)."),
    Setting("mask_each_word", "bool", False,
            "Predict for plain sentences by masking each word in turn."),
    Setting("vocab_file", "string",
            os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocab.txt"),
            "Vocabulary for predict."),
    Setting("predict_batch_size", "integer", 8, "Prediction batch size."),
    Setting("top_k", "integer", 5, "MLM candidates per masked position in predictions."),
)


class PretrainingConfig(object):
  """Every setting of one run (SETTINGS) as attributes, plus `runtime`."""

  def __init__(self, runtime=None, **values):
    self.__dict__.update(settings.complete(SETTINGS, values, "pretraining setting"))
    self.runtime = runtime if runtime is not None else settings.RuntimeConfig()


def define_flags(flag_values=None):
  """Defines this script's flags (on absl's global FLAGS unless given others).

  Not done at import, so other scripts can import this module without their
  flags colliding.
  """
  flag_values = flag_values if flag_values is not None else flags.FLAGS
  settings.define_flags(flag_values, SETTINGS)
  return settings.define_runtime_flags(flag_values)


def config_from_flags(flag_values):
  return PretrainingConfig(settings.runtime_from_flags(flag_values),
                           **settings.read_flags(flag_values, SETTINGS))


def lip_end_steps_from(pos_end_step, ner_end_step, dep_end_step):
  return {"pos": pos_end_step, "ner": ner_end_step, "dep": dep_end_step}


def model_fn_builder(bert_config, init_checkpoint, learning_rate, num_train_steps,
                     num_warmup_steps, use_tpu, use_one_hot_embeddings,
                     active_tasks, lip_end_steps, output_dir, optimizer_name="adamw",
                     grad_accum_steps=1, use_amp=False, top_k=5, save_summary_steps=1,
                     seed=None):
  """model_fn for TPUEstimator: LERT's pretraining graph.

  Args:
    active_tasks: linguistic tasks trained and evaluated; the others keep
      their variables (so checkpoints carry every head) but get no loss.
    lip_end_steps: dict task -> LIP end step.
    save_summary_steps: training scalars go to TensorBoard every N steps.
    seed: graph-level seed (initialisation, dropout), or None.
  """
  active_tasks = tuple(t for t in linguistics.TASKS if t in active_tasks)

  def model_fn(features, labels, mode, params):
    del labels, params
    if seed is not None:
      tf.set_random_seed(seed)
    is_training = mode == estimator_utils.ModeKeys.TRAIN
    model = estimator_utils.bert_from_features(bert_config, features, is_training,
                                               use_one_hot_embeddings)
    predict = mode == estimator_utils.ModeKeys.PREDICT
    heads = linguistics.TASKS if predict else active_tasks
    logits = modeling.lert_pretraining_heads(
        bert_config, model.get_sequence_output(), model.get_embedding_table(),
        features["masked_lm_positions"], tasks=heads)

    tvars = tf.trainable_variables()
    scaffold_fn, _ = estimator_utils.init_from_checkpoint(init_checkpoint, use_tpu,
                                                         tvars)

    if predict:
      return estimator_utils.ModelSpec(
          mode=mode, predictions=prediction_tensors(logits, features, top_k),
          scaffold_fn=scaffold_fn)

    weights = features["masked_lm_weights"]
    label_ids = {"mlm": features["masked_lm_ids"]}
    for task in active_tasks:
      label_ids[task] = features["%s_labels" % task]
    losses, per_position, log_probs = {}, {}, {}
    for head in ("mlm",) + active_tasks:
      losses[head], per_position[head], log_probs[head] = (
          modeling.masked_cross_entropy(logits[head], label_ids[head], weights,
                                        gather_labels=False if use_tpu else None))
    global_step = tf.train.get_or_create_global_step()
    lambdas = modeling.lip_weights(global_step,
                                   {t: lip_end_steps[t] for t in active_tasks})
    total_loss = losses["mlm"]
    for task in active_tasks:
      total_loss += lambdas[task] * losses[task]

    if is_training:
      train_op = optimization.create_optimizer(
          total_loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu,
          optimizer_name=optimizer_name, grad_accum_steps=grad_accum_steps,
          use_amp=use_amp)
      scalars = {"loss/total": total_loss,
                 "learning_rate": optimization.learning_rate_schedule(
                     learning_rate, global_step, num_train_steps, num_warmup_steps)}
      for head, value in losses.items():
        scalars["loss/%s" % head] = value
      for task, value in lambdas.items():
        scalars["lambda/%s" % task] = value
      return estimator_utils.ModelSpec(
          mode=mode, loss=total_loss, train_op=train_op,
          host_call=estimator_utils.scalar_host_call(output_dir, scalars, global_step,
                                                     save_summary_steps),
          scaffold_fn=scaffold_fn)

    # Evaluation: loss and accuracy of every active head over masked positions.
    metric_heads = ("mlm",) + active_tasks

    def metric_fn(weights, *tensors):
      weights = tf.reshape(weights, [-1])
      metrics = {}
      for i, head in enumerate(metric_heads):
        head_losses, head_log_probs, head_labels = tensors[3 * i:3 * i + 3]
        predictions = tf.argmax(head_log_probs, axis=-1, output_type=tf.int32)
        metrics["%s_accuracy" % head] = tf.metrics.accuracy(
            labels=tf.reshape(head_labels, [-1]), predictions=predictions,
            weights=weights)
        metrics["%s_loss" % head] = tf.metrics.mean(
            values=head_losses, weights=weights)
      return metrics

    metric_tensors = [weights]
    for head in metric_heads:
      metric_tensors += [per_position[head], log_probs[head], label_ids[head]]
    return estimator_utils.ModelSpec(
        mode=mode, loss=total_loss, eval_metrics=(metric_fn, metric_tensors),
        scaffold_fn=scaffold_fn)

  return model_fn


def prediction_tensors(logits, features, top_k):
  """MLM top-k and each linguistic head's best tag at every masked position."""
  batch_size, num_positions = modeling.get_shape_list(
      features["masked_lm_positions"], expected_rank=2)
  predictions = {"masked_lm_positions": features["masked_lm_positions"],
                 "masked_lm_weights": features["masked_lm_weights"],
                 "input_ids": features["input_ids"]}
  probs = tf.nn.softmax(logits["mlm"])
  top_probs, top_ids = tf.nn.top_k(probs, k=top_k)
  predictions["mlm_top_ids"] = tf.reshape(top_ids, [batch_size, num_positions, top_k])
  predictions["mlm_top_probs"] = tf.reshape(top_probs,
                                            [batch_size, num_positions, top_k])
  for task in linguistics.TASKS:
    task_probs = tf.nn.softmax(logits[task])
    predictions["%s_ids" % task] = tf.reshape(
        tf.argmax(task_probs, axis=-1, output_type=tf.int32),
        [batch_size, num_positions])
    predictions["%s_probs" % task] = tf.reshape(
        tf.reduce_max(task_probs, axis=-1), [batch_size, num_positions])
  return predictions


def resolve_active_tasks(requested, labelled, annotator):
  """Tasks to train: those requested that the data labels. Logs what is off."""
  requested = [t.strip() for t in requested if t.strip()]
  unknown = [t for t in requested if t not in linguistics.TASKS]
  if unknown:
    raise errors.UserError("--linguistic_tasks: unknown task(s) %s (choose from %s)" %
                           (", ".join(unknown), ", ".join(linguistics.TASKS)))
  active, off = [], {}
  for task in linguistics.TASKS:
    if task not in requested:
      off[task] = "not requested (--linguistic_tasks)"
    elif task not in labelled:
      off[task] = "unlabelled in the data (annotator %s)" % annotator
    else:
      active.append(task)
  for task, why in off.items():
    tf.logging.info("LIP: the %s head is off (weight 0): %s", task.upper(), why)
  return active, off


def check_config(config):
  """The model config, once the settings are known to make a run."""
  if not (config.do_train or config.do_eval or config.do_predict):
    raise errors.UserError(
        "At least one of --do_train, --do_eval, --do_predict must be set.")
  for name in ("bert_config_file", "output_dir"):
    if not getattr(config, name):
      raise errors.UserError("--%s is required" % name)
  if (config.do_train or config.do_eval) and not config.input_file:
    raise errors.UserError("--input_file is required for --do_train / --do_eval")
  if config.eval_all_checkpoints and not config.do_eval:
    raise errors.UserError("--eval_all_checkpoints needs --do_eval")
  bert_config = modeling.BertConfig.from_json_file(config.bert_config_file)
  # The vocabulary whose ids the model reads: predict's, and the data's.
  vocab_size = (len(tokenization.load_vocab(config.vocab_file)) if config.do_predict
                else None)
  modeling.check_config(bert_config, config.bert_config_file, vocab_size=vocab_size)
  if config.max_seq_length > bert_config.max_position_embeddings:
    raise errors.UserError("--max_seq_length %d exceeds max_position_embeddings %d of %s" %
                           (config.max_seq_length, bert_config.max_position_embeddings,
                            config.bert_config_file))
  return bert_config


def resolve_init_checkpoint(config):
  """The checkpoint to warm-start from, or None; logs when a resume wins."""
  init_checkpoint = estimator_utils.resolve_checkpoint(config.init_checkpoint)
  tokenization.validate_case_matches_checkpoint(config.do_lower_case, init_checkpoint)
  if init_checkpoint and tf.train.latest_checkpoint(config.output_dir):
    tf.logging.info("Resuming from %s; --init_checkpoint %s is ignored.",
                    tf.train.latest_checkpoint(config.output_dir), init_checkpoint)
  return init_checkpoint


# num_records: the records in `files` (None where only sizes were checked and no
# sidecar counts them).
DataSet = collections.namedtuple("DataSet",
                                 ["files", "sidecar", "labelled_tasks", "num_records"])


def read_inputs(config, bert_config):
  """The input files as a verified DataSet: whole, unchanged, and what they label.

  Refuses (one error naming the shard) a partial or changed set, a truncated
  file, data of other lengths or a larger vocabulary than the model's, and data
  that nothing says the labels of.
  """
  if not config.input_file:
    return DataSet([], None, [], 0)
  input_files = estimator_utils.expand_input_files(config.input_file)
  sidecar = pretraining_data.load_sidecar(input_files, config.data_sidecar)
  pretraining_data.check_sidecar(sidecar, config.max_seq_length,
                                 config.max_predictions_per_seq)
  if sidecar is not None and "vocab_size" in sidecar:
    modeling.check_config(bert_config, config.bert_config_file,
                          vocab_size=sidecar["vocab_size"])
  labelled = config.labelled_tasks
  if labelled is not None:
    labelled = [task.strip() for task in labelled if task.strip()]
  verified = pretraining_data.verify_dataset(
      input_files, config.data_sidecar, labelled_tasks=labelled,
      read_contents=config.check_data_contents)
  tf.logging.info("Input: %d files, %s records, labelled: %s", len(input_files),
                  verified.num_records if verified.num_records is not None else "?",
                  ", ".join(verified.labelled_tasks) or "nothing")
  return DataSet(input_files, sidecar, list(verified.labelled_tasks),
                 verified.num_records)


def build_estimator(config, bert_config, init_checkpoint, active_tasks, lip_end_steps):
  runtime = config.runtime
  model_fn = model_fn_builder(
      bert_config=bert_config,
      init_checkpoint=init_checkpoint,
      learning_rate=config.learning_rate,
      num_train_steps=config.num_train_steps,
      num_warmup_steps=config.num_warmup_steps,
      use_tpu=runtime.use_tpu,
      use_one_hot_embeddings=runtime.use_tpu,
      active_tasks=active_tasks,
      lip_end_steps=lip_end_steps,
      output_dir=config.output_dir,
      optimizer_name=runtime.optimizer,
      grad_accum_steps=runtime.grad_accum_steps,
      use_amp=runtime.use_amp,
      top_k=config.top_k,
      save_summary_steps=runtime.save_summary_steps,
      seed=config.seed)
  return estimator_utils.make_estimator(
      model_fn, config.output_dir, runtime,
      train_batch_size=config.train_batch_size,
      eval_batch_size=config.eval_batch_size,
      predict_batch_size=config.predict_batch_size)


def train(estimator, config, input_files):
  """Trains for num_train_steps updates (the global step counts updates)."""
  runtime = config.runtime
  input_fn = estimator_utils.tfrecord_input_fn_builder(
      input_files, _feature_spec(config), is_training=True, drop_remainder=True,
      seed=config.seed)
  hooks = [estimator_utils.ExamplesPerSecondHook(
      config.train_batch_size, runtime.log_step_count_steps, config.output_dir, log=False)]
  # Under gradient accumulation too, so max_steps and save_checkpoints_steps
  # count updates.
  tf.logging.info("***** Training: batch %d x %d micro-batch(es), %d updates *****",
                  config.train_batch_size, runtime.grad_accum_steps,
                  config.num_train_steps)
  if runtime.distribution == "multi_worker":
    # Multi-worker Estimator training runs through train_and_evaluate.
    tf.estimator.train_and_evaluate(
        estimator,
        tf.estimator.TrainSpec(input_fn, max_steps=config.num_train_steps,
                               hooks=hooks),
        tf.estimator.EvalSpec(input_fn, steps=1, throttle_secs=10 ** 9))
  else:
    estimator.train(input_fn=input_fn, max_steps=config.num_train_steps, hooks=hooks)


def evaluate(estimator, config, data, off_tasks):
  """Writes every active head's loss and accuracy to output_dir/eval_results.txt
  (and, with --eval_all_checkpoints, one JSON line per checkpoint to
  output_dir/eval_history.jsonl). `eval_examples` says how many records counted."""
  steps = config.max_eval_steps
  if data.num_records is not None:
    # Only whole batches are evaluated (TPUs need static shapes); with fewer
    # records than a batch every metric would be a silent 0.
    if data.num_records < config.eval_batch_size:
      raise errors.UserError(
          "--do_eval: --input_file has %d records, fewer than --eval_batch_size %d, so "
          "nothing would be evaluated; lower --eval_batch_size or give more data" %
          (data.num_records, config.eval_batch_size))
    steps = min(steps, data.num_records // config.eval_batch_size)
  input_fn = estimator_utils.tfrecord_input_fn_builder(
      data.files, _feature_spec(config), is_training=False, drop_remainder=True)
  checkpoints = [None]  # the latest
  if config.eval_all_checkpoints:
    state = tf.train.get_checkpoint_state(config.output_dir)
    checkpoints = list(state.all_model_checkpoint_paths) if state else []
    if not checkpoints:
      raise errors.UserError("--eval_all_checkpoints: %s holds no checkpoint" %
                             config.output_dir)
  history = []
  for checkpoint in checkpoints:
    result = estimator.evaluate(input_fn=input_fn, steps=steps,
                                checkpoint_path=checkpoint)
    if data.num_records is not None:
      result["eval_examples"] = steps * config.eval_batch_size
    # Google's and HFL's names for the MLM metrics, which result parsers read.
    result["masked_lm_accuracy"] = result["mlm_accuracy"]
    result["masked_lm_loss"] = result["mlm_loss"]
    history.append({key: value.item() if hasattr(value, "item") else value
                    for key, value in result.items()})
  for task, why in off_tasks.items():
    result["%s_head" % task] = "off (%s)" % why
  output_eval_file = os.path.join(config.output_dir, "eval_results.txt")
  estimator_utils.write_results(output_eval_file, result)
  if config.eval_all_checkpoints:
    with tf.gfile.GFile(os.path.join(config.output_dir, "eval_history.jsonl"),
                        "w") as writer:
      for entry in history:
        writer.write(json.dumps(entry, sort_keys=True) + "\n")
  tf.logging.info("***** Eval results (%s) *****", output_eval_file)
  for key in sorted(result):
    tf.logging.info("  %s = %s", key, result[key])


def _feature_spec(config):
  return pretraining_data.feature_spec(config.max_seq_length,
                                       config.max_predictions_per_seq)


def run(config):
  """Trains, evaluates and/or predicts as `config` (a PretrainingConfig) says."""
  bert_config = check_config(config)
  tf.gfile.MakeDirs(config.output_dir)
  init_checkpoint = resolve_init_checkpoint(config)
  data = read_inputs(config, bert_config)
  input_files = data.files
  lip_end_steps = lip_end_steps_from(config.pos_end_step, config.ner_end_step,
                                     config.dep_end_step)
  active_tasks, off_tasks = list(linguistics.TASKS), {}
  if config.do_train or config.do_eval:
    active_tasks, off_tasks = resolve_active_tasks(
        config.linguistic_tasks, data.labelled_tasks,
        (data.sidecar or {}).get("annotator", "unknown (no sidecar)"))
    tf.logging.info("LIP end steps: %s; active heads: %s", lip_end_steps,
                    ", ".join(active_tasks) or "none (MLM only)")
  estimator = build_estimator(config, bert_config, init_checkpoint, active_tasks,
                              lip_end_steps)
  prediction = read_prediction_input(config, bert_config) if config.do_predict else None
  if config.do_train:
    train(estimator, config, input_files)
  if prediction is not None:
    # Checked before the evaluation: without trained weights nothing is written.
    heads = prediction_heads(tf.train.latest_checkpoint(config.output_dir) or
                             init_checkpoint, config.output_dir)
  if config.do_eval:
    evaluate(estimator, config, data, off_tasks)
  if prediction is not None:
    run_predict(estimator, config, prediction, heads)


PredictionInput = collections.namedtuple("PredictionInput", ["tokenizer", "instances"])


def read_prediction_input(config, bert_config):
  """The tokenizer and the windowed instances of --predict_input_file.

  Every [MASK] (every word, with --mask_each_word) is predicted exactly once:
  a sentence longer than the model takes is cut into windows (fit_windows).
  """
  path = config.predict_input_file
  if not path:
    raise errors.UserError("--do_predict needs --predict_input_file")
  tokenizer = tokenization.FullTokenizer(config.vocab_file, config.do_lower_case)
  if len(tokenizer.vocab) != bert_config.vocab_size:
    raise errors.UserError("%s has %d tokens but the config's vocab_size is %d" % (
        config.vocab_file, len(tokenizer.vocab), bert_config.vocab_size))
  _check_prediction_file(path, needs_masks=not config.mask_each_word)
  instances = []
  for instance in pretraining_data.read_prediction_instances(
      path, tokenizer, config.mask_each_word):
    instances.extend(fit_windows(instance, config.max_seq_length,
                                 config.max_predictions_per_seq))
  windows = [i for i in instances if "window_start" in i]
  if windows:
    tf.logging.info("%s: %d sentence(s) longer than --max_seq_length=%d or with more "
                    "than --max_predictions_per_seq=%d masks were cut into %d windows",
                    path, len(set(i["text"] for i in windows)), config.max_seq_length,
                    config.max_predictions_per_seq, len(windows))
  return PredictionInput(tokenizer, instances)


def _check_prediction_file(path, needs_masks):
  """Names a missing, non-UTF-8 or empty file, or a line without a needed [MASK]."""
  if not os.path.isfile(path):
    raise errors.UserError("--predict_input_file %s does not exist" % path)
  with io.open(path, encoding="utf-8") as reader:
    try:
      lines = list(reader)
    except UnicodeDecodeError as e:
      raise errors.UserError("%s: not UTF-8 text (%s)" % (path, e))
  if not any(line.strip() for line in lines):
    raise errors.UserError("--predict_input_file %s has no sentence to predict" % path)
  for line_number, line in enumerate(lines, 1):
    if needs_masks and line.strip() and pretraining_data.MASK_TOKEN not in line:
      raise errors.UserError("%s:%d: no %s (plain sentences need --mask_each_word)" %
                             (path, line_number, pretraining_data.MASK_TOKEN))


def fit_windows(instance, max_seq_length, max_predictions_per_seq):
  """`instance` as instances the model takes, every masked position in one of them.

  An instance that fits comes back as it is.  Otherwise its masks are taken in
  order, as many per window as fit (max_predictions_per_seq, within
  max_seq_length - 2 tokens), and each window is centred on its masks, so
  they get context on both sides.  A window records its first token's index
  in the sentence ([CLS] not counted) as `window_start`.
  """
  body = instance["tokens"][1:-1]
  body_ids = instance["input_ids"][1:-1]
  positions = [p - 1 for p in instance["masked_lm_positions"]]
  width = max_seq_length - 2
  if len(body) <= width and len(positions) <= max_predictions_per_seq:
    return [instance]
  windows = []
  first = 0
  while first < len(positions):
    end = first + 1
    while (end < len(positions) and end - first < max_predictions_per_seq and
           positions[end] - positions[first] < width):
      end += 1
    span = positions[end - 1] - positions[first] + 1
    start = positions[first] - (width - span) // 2
    start = max(0, min(start, len(body) - width))
    window = dict(instance)
    window["tokens"] = instance["tokens"][:1] + body[start:start + width] + ["[SEP]"]
    window["input_ids"] = (instance["input_ids"][:1] + body_ids[start:start + width] +
                           instance["input_ids"][-1:])
    window["masked_lm_positions"] = [p - start + 1 for p in positions[first:end]]
    if instance.get("original_tokens"):
      window["original_tokens"] = instance["original_tokens"][first:end]
    window["window_start"] = start
    windows.append(window)
    first = end
  return windows


# Without these the MLM predictions (and the tags, which read the same
# transform) would come from freshly initialised weights.
_PREDICTION_VARIABLES = ("bert/embeddings/word_embeddings",
                         "cls/predictions/transform/dense/kernel",
                         "cls/predictions/output_bias")


def prediction_heads(checkpoint, output_dir):
  """The linguistic tasks whose heads `checkpoint` (what --do_predict reads) has.

  Raises errors.UserError when there is no checkpoint, or it lacks the
  encoder or the MLM head: the predictions would come from random weights.
  """
  if not checkpoint:
    raise errors.UserError(
        "--do_predict needs trained weights: %s holds no checkpoint and no "
        "--init_checkpoint is given" % output_dir)
  names = set(name for name, _ in tf.train.list_variables(checkpoint))
  missing = [name for name in _PREDICTION_VARIABLES if name not in names]
  if missing:
    raise errors.UserError("%s has no %s: its predictions would come from random "
                           "weights" % (checkpoint, ", ".join(missing)))
  untrained = checkpoint_names.untrained_heads(
      names, lambda name: tf.train.load_variable(checkpoint, name))
  heads = []
  for task in linguistics.TASKS:
    if checkpoint_names.heads_variable(task, "kernel") not in names:
      continue
    if task in untrained:
      tf.logging.warning("The %s head of %s was never trained (its data did not "
                         "label %s): no %s tags are written", task.upper(), checkpoint,
                         task.upper(), task.upper())
      continue
    heads.append(task)
  return heads


def run_predict(estimator, config, prediction, heads):
  """Writes MLM top-k and the tags of `heads` at the masked positions as JSONL."""
  off = [task for task in linguistics.TASKS if task not in heads]
  if off:
    tf.logging.warning("The checkpoint has no %s head: the predictions carry no %s "
                       "tags", "/".join(t.upper() for t in off),
                       "/".join(t.upper() for t in off))
  input_fn = pretraining_data.prediction_input_fn_builder(
      prediction.instances, config.max_seq_length, config.max_predictions_per_seq,
      pad_to_multiple=config.predict_batch_size if config.runtime.use_tpu else 1)
  output_file = config.predict_output_file or os.path.join(config.output_dir,
                                                           "predictions.jsonl")
  written = 0
  with tf.gfile.GFile(output_file, "w") as writer:
    for instance, result in zip(prediction.instances, estimator.predict(
        input_fn=input_fn, yield_single_examples=True)):
      record = pretraining_data.format_prediction(instance, result, prediction.tokenizer)
      for mask in record["masks"]:
        for task in off:
          del mask[task], mask["%s_prob" % task]
      if "window_start" in instance:
        record["window_start"] = instance["window_start"]
      writer.write(json.dumps(record, ensure_ascii=False) + "\n")
      written += 1
  tf.logging.info("Wrote %d predictions to %s", written, output_file)


def main(argv, flag_values=None):
  del argv  # everything comes from the flags
  tf.logging.set_verbosity(tf.logging.INFO)
  run(config_from_flags(flag_values if flag_values is not None else flags.FLAGS))


if __name__ == "__main__":
  define_flags()
  errors.run_main(main)
