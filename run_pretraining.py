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
import json
import os

from absl import flags
import tensorflow.compat.v1 as tf

import lert
from lert import errors
from lert.engine import estimators
from lert import fileio
from lert.engine import input_pipeline
from lert import linguistics
import modeling
import optimization
from lert.pretrain import prediction
from lert.pretrain import pretraining_data
from lert import settings
from lert.engine import summaries
from lert.checkpoints import tf_checkpoints
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
    Setting("vocab_file", "string", lert.DEFAULT_VOCAB_FILE, "Vocabulary for predict."),
    Setting("predict_batch_size", "integer", 8, "Prediction batch size."),
    Setting("top_k", "integer", 5, "MLM candidates per masked position in predictions."),
)


class PretrainingConfig(object):
  """Every setting of one run (SETTINGS) as attributes, plus `runtime`.

  `preserve_unused_tokens` is passed to --do_predict's tokenizer (Google's flag
  of that name, see config_from_flags).
  """

  def __init__(self, runtime=None, preserve_unused_tokens=False, **values):
    self.__dict__.update(settings.complete(SETTINGS, values, "pretraining setting"))
    self.preserve_unused_tokens = preserve_unused_tokens
    self.runtime = runtime if runtime is not None else settings.RuntimeConfig()

  def lip_end_steps(self):
    """{task: LIP end step} (--pos_end_step, --ner_end_step, --dep_end_step)."""
    return {task: getattr(self, "%s_end_step" % task) for task in linguistics.TASKS}


def define_flags(flag_values=None):
  """Defines this script's flags (on absl's global FLAGS unless given others).

  Not done at import, so other scripts can import this module without their
  flags colliding.
  """
  flag_values = flag_values if flag_values is not None else flags.FLAGS
  settings.define_flags(flag_values, SETTINGS)
  return settings.define_runtime_flags(flag_values)


def config_from_flags(flag_values):
  # tokenization.py defines Google's --preserve_unused_tokens on absl's global flags,
  # so this script accepts it; other FlagValues (tests) lack it.
  preserve = ("preserve_unused_tokens" in flag_values and
              flag_values["preserve_unused_tokens"].value)
  return PretrainingConfig(settings.runtime_from_flags(flag_values), preserve,
                           **settings.read_flags(flag_values, SETTINGS))


def model_fn_builder(config, bert_config, init_checkpoint, active_tasks):
  """model_fn for TPUEstimator: LERT's pretraining graph as `config` says.

  Args:
    config: PretrainingConfig (learning rate and schedule, LIP end steps, seed,
      top_k, output_dir; the optimizer, TPU and mixed precision of its runtime).
    bert_config: modeling.BertConfig.
    init_checkpoint: checkpoint to warm-start from, or None.
    active_tasks: linguistic tasks trained and evaluated; the others keep
      their variables (so checkpoints carry every head) but get no loss.
  """
  runtime = config.runtime
  use_tpu = runtime.use_tpu
  active_tasks = tuple(t for t in linguistics.TASKS if t in active_tasks)
  lip_end_steps = config.lip_end_steps()

  def model_fn(features, labels, mode, params):
    del labels, params
    if config.seed is not None:
      tf.set_random_seed(config.seed)
    is_training = mode == estimators.ModeKeys.TRAIN
    # One-hot embedding look-ups are faster on TPUs.
    model = estimators.bert_from_features(bert_config, features, is_training,
                                          use_one_hot_embeddings=use_tpu)
    predict = mode == estimators.ModeKeys.PREDICT
    heads = linguistics.TASKS if predict else active_tasks
    logits = modeling.lert_pretraining_heads(
        bert_config, model.get_sequence_output(), model.get_embedding_table(),
        features["masked_lm_positions"], tasks=heads)

    tvars = tf.trainable_variables()
    scaffold_fn, _ = tf_checkpoints.init_from_checkpoint(init_checkpoint, use_tpu,
                                                         tvars)

    if predict:
      return estimators.ModelSpec(
          mode=mode,
          predictions=prediction.prediction_tensors(logits, features, config.top_k),
          scaffold_fn=scaffold_fn)

    weights = features["masked_lm_weights"]
    label_ids = {"mlm": features["masked_lm_ids"]}
    for task in active_tasks:
      label_ids[task] = features["%s_labels" % task]
    losses, per_position, log_probs = {}, {}, {}
    for head in ("mlm",) + active_tasks:
      losses[head], per_position[head], log_probs[head] = (
          modeling.masked_cross_entropy(logits[head], label_ids[head], weights,
                                        one_hot_labels=use_tpu))
    global_step = tf.train.get_or_create_global_step()
    lambdas = modeling.lip_weights(global_step,
                                   {t: lip_end_steps[t] for t in active_tasks})
    total_loss = losses["mlm"]
    for task in active_tasks:
      total_loss += lambdas[task] * losses[task]

    if is_training:
      train_op = optimization.create_optimizer(
          total_loss, config.learning_rate, config.num_train_steps,
          config.num_warmup_steps, use_tpu, optimizer_name=runtime.optimizer,
          grad_accum_steps=runtime.grad_accum_steps, use_amp=runtime.use_amp)
      scalars = {"loss/total": total_loss,
                 "learning_rate": optimization.learning_rate_schedule(
                     config.learning_rate, global_step, config.num_train_steps,
                     config.num_warmup_steps)}
      for head, value in losses.items():
        scalars["loss/%s" % head] = value
      for task, value in lambdas.items():
        scalars["lambda/%s" % task] = value
      return estimators.ModelSpec(
          mode=mode, loss=total_loss, train_op=train_op,
          host_call=summaries.scalar_host_call(config.output_dir, scalars, global_step,
                                               runtime.save_summary_steps),
          scaffold_fn=scaffold_fn)

    metric_tensors = [weights]
    for head in ("mlm",) + active_tasks:
      metric_tensors += [per_position[head], log_probs[head], label_ids[head]]
    return estimators.ModelSpec(
        mode=mode, loss=total_loss,
        eval_metrics=(_metric_fn_for(("mlm",) + active_tasks), metric_tensors),
        scaffold_fn=scaffold_fn)

  return model_fn


def _metric_fn_for(heads):
  """Evaluation's metric_fn: loss and accuracy of each head over masked positions.

  It takes the weights, then per head its per-position losses, log
  probabilities and labels.
  """

  def metric_fn(weights, *tensors):
    weights = tf.reshape(weights, [-1])
    metrics = {}
    for i, head in enumerate(heads):
      head_losses, head_log_probs, head_labels = tensors[3 * i:3 * i + 3]
      predictions = tf.argmax(head_log_probs, axis=-1, output_type=tf.int32)
      metrics["%s_accuracy" % head] = tf.metrics.accuracy(
          labels=tf.reshape(head_labels, [-1]), predictions=predictions,
          weights=weights)
      metrics["%s_loss" % head] = tf.metrics.mean(
          values=head_losses, weights=weights)
    return metrics

  return metric_fn


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
  if config.do_predict and not config.predict_input_file:
    raise errors.UserError("--do_predict needs --predict_input_file")
  # The vocabulary whose ids the model reads: predict's (the data's: read_inputs).
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
  init_checkpoint = tf_checkpoints.resolve_checkpoint(config.init_checkpoint)
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
  input_files = fileio.expand_patterns(config.input_file, "input_file")
  labelled = config.labelled_tasks
  if labelled is not None:
    labelled = [task.strip() for task in labelled if task.strip()]
  verified = pretraining_data.verify_dataset(
      input_files, config.data_sidecar, labelled_tasks=labelled,
      read_contents=config.check_data_contents,
      lengths={"max_seq_length": config.max_seq_length,
               "max_predictions_per_seq": config.max_predictions_per_seq})
  sidecar = verified.sidecar
  if sidecar is not None and "vocab_size" in sidecar:
    modeling.check_config(bert_config, config.bert_config_file,
                          vocab_size=sidecar["vocab_size"])
  tf.logging.info("Input: %d files, %s records, labelled: %s", len(input_files),
                  verified.num_records if verified.num_records is not None else "?",
                  ", ".join(verified.labelled_tasks) or "nothing")
  return DataSet(input_files, sidecar, list(verified.labelled_tasks),
                 verified.num_records)


def build_estimator(config, bert_config, init_checkpoint, active_tasks):
  """The engine of config.runtime around model_fn_builder's model_fn."""
  return estimators.make_estimator(
      model_fn_builder(config, bert_config, init_checkpoint, active_tasks),
      config.output_dir, config.runtime,
      train_batch_size=config.train_batch_size,
      eval_batch_size=config.eval_batch_size,
      predict_batch_size=config.predict_batch_size)


def train(estimator, config, input_files):
  """Trains for num_train_steps updates (the global step counts updates)."""
  runtime = config.runtime
  input_fn = input_pipeline.tfrecord_input_fn_builder(
      input_files, _feature_spec(config), is_training=True, drop_remainder=True,
      seed=config.seed)
  hooks = [summaries.ExamplesPerSecondHook(
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
  input_fn = input_pipeline.tfrecord_input_fn_builder(
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
  summaries.write_results(output_eval_file, result)
  if config.eval_all_checkpoints:
    with fileio.atomic_text(os.path.join(config.output_dir, "eval_history.jsonl")) as writer:
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
  tf_checkpoints.check_model_fits(bert_config, config.bert_config_file, config.output_dir,
                                  init_checkpoint, with_heads=True)
  data = read_inputs(config, bert_config)
  active_tasks, off_tasks = list(linguistics.TASKS), {}
  if config.do_train or config.do_eval:
    active_tasks, off_tasks = resolve_active_tasks(
        config.linguistic_tasks, data.labelled_tasks,
        (data.sidecar or {}).get("annotator", "unknown (no sidecar)"))
    tf.logging.info("LIP end steps: %s; active heads: %s", config.lip_end_steps(),
                    ", ".join(active_tasks) or "none (MLM only)")
  estimator = build_estimator(config, bert_config, init_checkpoint, active_tasks)
  if config.do_predict:
    tokenizer = tokenization.FullTokenizer(
        config.vocab_file, config.do_lower_case,
        preserve_unused_tokens=config.preserve_unused_tokens)
    instances = prediction.read_prediction_windows(
        config.predict_input_file, tokenizer, config.mask_each_word,
        config.max_seq_length, config.max_predictions_per_seq)
  if config.do_train:
    train(estimator, config, data.files)
  if config.do_predict:
    # Checked before the evaluation: without trained weights nothing is written.
    heads = prediction.prediction_heads(tf.train.latest_checkpoint(config.output_dir) or
                                        init_checkpoint, config.output_dir)
  if config.do_eval:
    evaluate(estimator, config, data, off_tasks)
  if config.do_predict:
    run_predict(estimator, config, tokenizer, instances, heads)


def run_predict(estimator, config, tokenizer, instances, heads):
  """Writes MLM top-k and the tags of `heads` at the masked positions of
  `instances` (prediction.read_prediction_windows) as JSONL."""
  off = [task for task in linguistics.TASKS if task not in heads]
  if off:
    tf.logging.warning("The checkpoint has no %s head: the predictions carry no %s "
                       "tags", "/".join(t.upper() for t in off),
                       "/".join(t.upper() for t in off))
  input_fn = prediction.prediction_input_fn_builder(
      instances, config.max_seq_length, config.max_predictions_per_seq,
      pad_to_multiple=config.predict_batch_size if config.runtime.use_tpu else 1)
  output_file = config.predict_output_file or os.path.join(config.output_dir,
                                                           "predictions.jsonl")
  written = 0
  with fileio.atomic_text(output_file) as writer:
    for instance, result in zip(instances, estimator.predict(
        input_fn=input_fn, yield_single_examples=True)):
      record = prediction.format_prediction(instance, result, tokenizer)
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
