# coding=utf-8
"""The contract between create_pretraining_data.py and run_pretraining.py.

The TFRecord feature spec (declared in record_schema.PRETRAINING), the
sidecar JSON that says how the data was made (annotator, inventories, labelled
tasks, lengths, every shard's integrity record), `verify_dataset`, which
refuses a partial or changed data set before training, and the small pieces
of prediction I/O (`--do_predict`): reading [MASK]ed sentences, feeding them
to the estimator, and formatting the results.
"""

import collections
import hashlib
import json
import os

from lert import errors
from lert import linguistics
from lert.records import record_schema
from lert.records import record_codec
SIDECAR_SUFFIX = ".json"
# Name of a sidecar that covers every file in its directory.
DIRECTORY_SIDECAR = "lert_data.json"
MASK_TOKEN = "[MASK]"


def feature_spec(max_seq_length, max_predictions_per_seq):
  """name -> tf.io.FixedLenFeature of one pretraining instance."""
  return record_schema.PRETRAINING.tf_spec(
      max_seq_length=max_seq_length,
      max_predictions_per_seq=max_predictions_per_seq)


# --- Sidecar ------------------------------------------------------------------------


class DatasetError(errors.UserError):
  """The input files are not the complete, unchanged data set they claim to be."""


def _is_remote(path):
  return "://" in path


def _exists(path):
  if _is_remote(path):
    import tensorflow.compat.v1 as tf
    return tf.io.gfile.exists(path)
  return os.path.exists(path)


def _open(path, mode):
  if _is_remote(path):
    import tensorflow.compat.v1 as tf
    return tf.io.gfile.GFile(path, mode)
  return open(path, mode)


def _size(path):
  if _is_remote(path):
    import tensorflow.compat.v1 as tf
    return tf.io.gfile.stat(path).length
  return os.path.getsize(path)


def sidecar_candidates(input_file):
  """Where the sidecar of `input_file` may be: `<file>.json`, then the directory's."""
  return [input_file + SIDECAR_SUFFIX,
          os.path.join(os.path.dirname(input_file), DIRECTORY_SIDECAR)]


def _read_json(path):
  with _open(path, "r") as reader:
    try:
      return json.load(reader)
    except ValueError as e:
      raise errors.UserError("%s: not valid JSON (%s)" % (path, e))


def _find_sidecars(input_files, explicit_path=None):
  """{input file: path of its sidecar}; {} when no file has one.

  All files or none: training on a mix of, say, LTP data (DEP labelled) and
  data without a sidecar would train DEP on whatever the latter holds.
  """
  if explicit_path:
    return {path: explicit_path for path in input_files}
  found = {}
  for path in input_files:
    for candidate in sidecar_candidates(path):
      if _exists(candidate):
        found[path] = candidate
        break
  missing = [p for p in input_files if p not in found]
  if found and missing:
    raise DatasetError("%s has no sidecar (%s) while other input files do" %
                       (missing[0], " or ".join(sidecar_candidates(missing[0]))))
  return found


def load_sidecar(input_files, explicit_path=None):
  """The sidecar describing `input_files`, or None when the data has none.

  All files must agree on it: training on a mix of, say, LTP data (DEP
  labelled) and jieba data (DEP absent) would silently train DEP on zeros.
  """
  if explicit_path:
    return _read_json(explicit_path)
  found = _find_sidecars(input_files)
  if not found:
    import tensorflow.compat.v1 as tf
    tf.logging.warning(
        "No sidecar JSON found beside %s: assuming every linguistic task is "
        "labelled. Pass --data_sidecar for data made elsewhere.", input_files[0])
    return None
  sidecars = {}
  for path in sorted(set(found.values())):
    sidecars[path] = _read_json(path)
  first_path = sorted(sidecars)[0]
  first = sidecars[first_path]
  for path, sidecar in sidecars.items():
    for key in ("labelled_tasks", "max_seq_length", "max_predictions_per_seq",
                "inventories"):
      if sidecar.get(key) != first.get(key):
        raise errors.UserError("sidecars disagree on %r: %s has %r, %s has %r" % (
            key, first_path, first.get(key), path, sidecar.get(key)))
  first = dict(first)
  first["_path"] = first_path
  return first


def check_sidecar(sidecar, max_seq_length, max_predictions_per_seq):
  """Raises if the data was made for other lengths or other label inventories."""
  if sidecar is None:
    return
  where = sidecar.get("_path", "sidecar")
  for key, value in (("max_seq_length", max_seq_length),
                     ("max_predictions_per_seq", max_predictions_per_seq)):
    if key in sidecar and sidecar[key] != value:
      raise errors.UserError("%s: the data was made with %s=%s but --%s=%s" %
                       (where, key, sidecar[key], key, value))
  inventories = sidecar.get("inventories")
  if inventories is not None:
    for task in linguistics.TASKS:
      if list(inventories.get(task, [])) != list(linguistics.LABELS[task]):
        raise errors.UserError("%s: the %s inventory differs from this code's (%s)" %
                         (where, task, ", ".join(linguistics.LABELS[task])))
  unknown = [t for t in sidecar.get("labelled_tasks", []) if t not in linguistics.TASKS]
  if unknown:
    raise errors.UserError("%s: unknown labelled task(s) %s" % (where, ", ".join(unknown)))


# --- Integrity of a data set -----------------------------------------------------------

VerifiedDataset = collections.namedtuple(
    "VerifiedDataset", ["labelled_tasks", "num_records", "sidecars"])


def _tfrecord_bodies(path):
  """Yields each record of a TFRecord file (bytes), its framing and CRCs checked;
  returns (records, bytes, sha256) at the end.

  Raises errors.UserError naming the file and the byte where it is cut or corrupt.
  """
  try:
    handle = _open(path, "rb")
  except (IOError, OSError) as e:
    raise DatasetError("%s cannot be read: %s" % (path, e))
  digest = hashlib.sha256()
  records = size = 0
  with handle:
    for body in record_codec.read_tfrecords(handle, path, digest):
      records += 1
      size += 12 + len(body) + 4
      yield body
  return records, size, digest.hexdigest()


def scan_tfrecord(path):
  """(records, bytes, sha256) of a TFRecord file, its framing and CRCs checked.

  Raises a UserError naming the file and the byte where it is cut or corrupt.
  """
  bodies = _tfrecord_bodies(path)
  while True:
    try:
      next(bodies)
    except StopIteration as end:
      return end.value


def masked_token_counts(input_files, max_records=None):
  """Counter {token id: times it is a masked-LM target} over pretraining
  TFRecords (the positions whose masked_lm_weights is > 0), reading the files in
  order, as evaluation does, and stopping after `max_records` records if given."""
  # Protobuf parsing only here: the rest of the module stays TensorFlow-free.
  from tensorflow.core.example import example_pb2
  counts = collections.Counter()
  records = 0
  for path in input_files:
    for body in _tfrecord_bodies(path):
      if max_records is not None and records >= max_records:
        return counts
      records += 1
      features = example_pb2.Example.FromString(body).features.feature
      for name in ("masked_lm_ids", "masked_lm_weights"):
        if name not in features:  # a missing map key would read as empty
          raise DatasetError("%s: a record without the %s feature; not pretraining "
                             "data" % (path, name))
      ids = features["masked_lm_ids"].int64_list.value
      weights = features["masked_lm_weights"].float_list.value
      counts.update(i for i, w in zip(ids, weights) if w > 0)
  return counts


def unigram_baseline(train_counts, eval_counts):
  """The masked-LM accuracy of always predicting the most frequent training
  target, measured on the eval targets: what a model that learned only token
  frequencies scores. Returns {"token_id", "accuracy", "eval_positions"}."""
  if not train_counts or not eval_counts:
    raise DatasetError("the unigram baseline needs masked positions in both the "
                       "training and the eval records")
  # Ties go to the smaller id, so the baseline does not depend on record order.
  token_id = min(train_counts, key=lambda i: (-train_counts[i], i))
  total = sum(eval_counts.values())
  return {"token_id": token_id, "accuracy": eval_counts[token_id] / float(total),
          "eval_positions": total}


def _regenerate_advice(sidecar_path):
  return ("delete it and run create_pretraining_data.py again with the flags %s "
          "records and --output_dir=%s: it rebuilds only the shards that are "
          "missing or changed" % (sidecar_path, os.path.dirname(sidecar_path)))


def _verify_against_sidecar(files, sidecar_path, read_contents, input_names=()):
  """Checks the files one sidecar covers; returns (labelled tasks, records).

  `input_names` are the base names of all the input files: a file of Google-style
  --output_file data (its sidecar's `data_set`) needs the set's other files too.
  """
  sidecar = _read_json(sidecar_path)
  data_set = sidecar.get("data_set") or {}
  absent = [path for path in data_set.get("files", [])
            if os.path.basename(path) not in input_names]
  if absent:
    raise DatasetError(
        "%s is one of %d files made together (%s); %s not among the input files: "
        "pass every file of the set" % (
            sidecar_path, len(data_set["files"]), ", ".join(data_set["files"]),
            ", ".join(absent) + (" is" if len(absent) == 1 else " are")))
  by_name = {os.path.basename(path): path for path in files}
  listed = sidecar.get("files")
  if listed is not None:
    missing = [name for name in listed if name not in by_name]
    if missing:
      raise DatasetError(
          "%s describes %d shards, but %s %s not among the input files (deleted, "
          "or left out of the input pattern): pass every shard, or regenerate "
          "the missing ones: run create_pretraining_data.py again with the flags "
          "%s records and --output_dir=%s" % (
              sidecar_path, len(listed), ", ".join(missing[:5]),
              "is" if len(missing) == 1 else "are", sidecar_path,
              os.path.dirname(sidecar_path)))
    extra = sorted(set(by_name) - set(listed))
    if extra:
      raise DatasetError("%s is not one of the shards %s describes (left from "
                         "another run?); move it away" % (by_name[extra[0]],
                                                          sidecar_path))
  shards = sidecar.get("shards", {})
  num_records = 0
  for name, path in sorted(by_name.items()):
    expected = shards.get(name)
    if expected is not None and _size(path) != expected["bytes"]:
      raise DatasetError("%s has %d bytes, but %s records %d (cut or changed "
                         "since it was made); %s" % (
                             path, _size(path), sidecar_path, expected["bytes"],
                             _regenerate_advice(sidecar_path)))
    if read_contents:
      records, _, sha256 = scan_tfrecord(path)
      if expected is not None and (records, sha256) != (expected["records"],
                                                        expected["sha256"]):
        raise DatasetError("%s differs from the shard %s records (%d records, "
                           "sha256 %s; recorded %d, %s): changed since it was "
                           "made; %s" % (path, sidecar_path, records, sha256[:12],
                                         expected["records"], expected["sha256"][:12],
                                         _regenerate_advice(sidecar_path)))
      num_records += records
    elif expected is not None:
      num_records += expected["records"]
  return sidecar.get("labelled_tasks"), num_records


def _verify_shard_names(files):
  """Without a sidecar: the generator's names must form whole data sets."""
  sets = collections.defaultdict(set)
  for path in files:
    name = record_schema.parse_shard_name(os.path.basename(path))
    if name and (name.stem, name.suffix) == (record_schema.PRETRAINING_SHARD_STEM,
                                             record_schema.TFRECORD_SUFFIX):
      sets[(os.path.dirname(path), name.count)].add(name.index)
  for (directory, count), present in sorted(sets.items()):
    missing = [i for i in range(count) if i not in present]
    if missing:
      raise DatasetError(
          "%s holds shards of a %d-shard data set, but %d of them are not among "
          "the input files (e.g. %s) and no sidecar "
          "(%s) says what the set is: pass every shard, or regenerate the data "
          "with create_pretraining_data.py" % (
              directory or ".", count, len(missing),
              record_schema.pretraining_shard_name(missing[0], count),
              DIRECTORY_SIDECAR))


def verify_dataset(input_files, sidecar_path=None, labelled_tasks=None,
                   read_contents=True):
  """Refuses input files that are not a whole, unchanged data set.

  With a sidecar (`sidecar_path`, else `<file>.json` or the directory's
  lert_data.json): every shard it lists must be among `input_files`, no other
  file may be, and each must have the bytes, records and sha256 it recorded.
  Without one: the generator's shard names must form whole sets, and the
  caller must say what the data labels (`labelled_tasks`, a list of
  linguistics.TASKS, possibly empty); it is never assumed. With
  `read_contents` every byte is read (framing, CRCs, hash: about as long as
  reading the data once); without, only the set and the sizes are checked.

  Returns VerifiedDataset(labelled_tasks, num_records, sidecars); num_records
  is None where nothing says it. Raises DatasetError naming the shard, with
  how to regenerate it. TensorFlow is imported only for remote (gs://) paths.
  """
  if labelled_tasks is not None:
    unknown = [t for t in labelled_tasks if t not in linguistics.TASKS]
    if unknown:
      raise DatasetError("unknown labelled task(s) %s; known: %s" % (
          ", ".join(unknown), ", ".join(linguistics.TASKS)))
  found = _find_sidecars(input_files, sidecar_path)
  if not found:
    _verify_shard_names(input_files)
    if labelled_tasks is None:
      raise DatasetError(
          "no sidecar (%s, or <file>%s) describes %s, so nothing says which "
          "linguistic tasks the data labels: say it (run_pretraining.py "
          "--labelled_tasks=pos,ner,dep, or empty for none), or regenerate the "
          "data with create_pretraining_data.py, which writes one" % (
              DIRECTORY_SIDECAR, SIDECAR_SUFFIX, input_files[0]))
    num_records = None
    if read_contents:
      num_records = sum(scan_tfrecord(path)[0] for path in input_files)
    return VerifiedDataset(list(labelled_tasks), num_records, [])
  groups = collections.defaultdict(list)
  for path, sidecar in found.items():
    groups[sidecar].append(path)
  tasks, num_records = None, 0
  for sidecar, files in sorted(groups.items()):
    sidecar_tasks, records = _verify_against_sidecar(
        files, sidecar, read_contents, set(os.path.basename(p) for p in input_files))
    if tasks is not None and sidecar_tasks != tasks:
      raise DatasetError("the sidecars disagree on the labelled tasks: %s says %s, "
                         "another %s" % (sidecar, sidecar_tasks, tasks))
    tasks = sidecar_tasks
    num_records += records
  if tasks is None:
    if labelled_tasks is None:
      raise DatasetError("%s does not say which linguistic tasks the data labels: "
                         "say it (run_pretraining.py --labelled_tasks)" %
                         sorted(groups)[0])
    tasks = list(labelled_tasks)
  elif labelled_tasks is not None and set(labelled_tasks) != set(tasks):
    raise DatasetError("the data labels %s (its sidecar says so), not %s as given" %
                       (",".join(tasks) or "nothing",
                        ",".join(labelled_tasks) or "nothing"))
  return VerifiedDataset(tasks, num_records, sorted(groups))


# --- Prediction I/O -------------------------------------------------------------------


def _tokens_with_masks(text, tokenizer):
  """Tokenizes `text`, keeping each literal [MASK] as one mask token."""
  tokens = []
  pieces = text.split(MASK_TOKEN)
  for i, piece in enumerate(pieces):
    tokens.extend(tokenizer.tokenize(piece))
    if i < len(pieces) - 1:
      tokens.append(MASK_TOKEN)
  return tokens


def _instance(text, tokens, original_tokens, masked, tokenizer):
  """A whole sentence with its masks; run_pretraining.fit_windows fits it to the model."""
  tokens = ["[CLS]"] + tokens + ["[SEP]"]
  return {
      "text": text,
      "tokens": tokens,
      "input_ids": tokenizer.convert_tokens_to_ids(tokens),
      "masked_lm_positions": [i + 1 for i in masked],
      "original_tokens": [original_tokens[i] for i in masked] if original_tokens else None,
  }


def read_prediction_instances(path, tokenizer, mask_each_word=False, segment=None):
  """Reads sentences for `--do_predict`, whole (none is cut to a length).

  Without `mask_each_word` every line holds one or more literal [MASK] tokens.
  With it, every line is a plain sentence; it is segmented into words
  (`segment`, default jieba) and one instance is made per word, with all of
  that word's tokens masked (whole-word masking, as in pretraining).
  An instance holds `text`, `tokens` ([CLS] ... [SEP]) and their `input_ids`,
  `masked_lm_positions` (in `tokens`) and `original_tokens` (the masked
  word's tokens, or None).
  """
  instances = []
  with open(path, encoding="utf-8") as reader:
    for line_number, line in enumerate(reader, 1):
      text = line.strip()
      if not text:
        continue
      if not mask_each_word:
        tokens = _tokens_with_masks(text, tokenizer)
        masked = [i for i, t in enumerate(tokens) if t == MASK_TOKEN]
        if not masked:
          raise errors.UserError("%s:%d: no [MASK] in the line" % (path, line_number))
        instances.append(_instance(text, tokens, None, masked, tokenizer))
        continue
      if segment is None:
        import jieba
        segment = jieba.lcut
      words = [w for w in segment(text) if w.strip()]
      word_tokens = [tokenizer.tokenize(w) for w in words]
      flat = [t for pieces in word_tokens for t in pieces]
      start = 0
      for word, pieces in zip(words, word_tokens):
        end = start + len(pieces)
        span = list(range(start, end))
        if span:  # else the tokenizer drops the whole word (control characters)
          tokens = flat[:start] + [MASK_TOKEN] * len(pieces) + flat[end:]
          instance = _instance(text, tokens, flat, span, tokenizer)
          instance["masked_word"] = word
          instances.append(instance)
        start = end
  if not instances:
    raise errors.UserError("%s: no sentence to predict" % path)
  return instances


def prediction_input_fn_builder(instances, max_seq_length, max_predictions_per_seq,
                                pad_to_multiple=1):
  """An in-memory input_fn over prediction instances (padded to fixed shapes)."""
  import numpy as np
  import tensorflow.compat.v1 as tf
  count = len(instances)
  padded_count = -(-count // pad_to_multiple) * pad_to_multiple
  arrays = {name: np.zeros([padded_count, length], dtype=np.int32)
            for name, length in (("input_ids", max_seq_length),
                                 ("input_mask", max_seq_length),
                                 ("segment_ids", max_seq_length),
                                 ("masked_lm_positions", max_predictions_per_seq))}
  arrays["masked_lm_weights"] = np.zeros([padded_count, max_predictions_per_seq],
                                         dtype=np.float32)
  for row, instance in enumerate(instances):
    ids, positions = instance["input_ids"], instance["masked_lm_positions"]
    arrays["input_ids"][row, :len(ids)] = ids
    arrays["input_mask"][row, :len(ids)] = 1
    arrays["masked_lm_positions"][row, :len(positions)] = positions
    arrays["masked_lm_weights"][row, :len(positions)] = 1.0

  def input_fn(params):
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    return dataset.batch(params["batch_size"], drop_remainder=pad_to_multiple > 1)

  return input_fn


def format_prediction(instance, result, tokenizer):
  """One JSON record: per masked position, MLM top-k and the POS/NER/DEP tags."""
  masks = []
  for slot, position in enumerate(instance["masked_lm_positions"]):
    entry = {"position": position,
             "top_k": [{"token": tokenizer.inv_vocab[int(token_id)],
                        "prob": round(float(prob), 6)}
                       for token_id, prob in zip(result["mlm_top_ids"][slot],
                                                 result["mlm_top_probs"][slot])]}
    if instance.get("original_tokens"):
      entry["original"] = instance["original_tokens"][slot]
    for task in linguistics.TASKS:
      entry[task] = linguistics.LABELS[task][int(result["%s_ids" % task][slot])]
      entry["%s_prob" % task] = round(float(result["%s_probs" % task][slot]), 6)
    masks.append(entry)
  record = {"text": instance["text"], "tokens": instance["tokens"], "masks": masks}
  if "masked_word" in instance:
    record["masked_word"] = instance["masked_word"]
  return record

