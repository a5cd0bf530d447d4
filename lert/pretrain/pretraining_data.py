# coding=utf-8
"""The contract between create_pretraining_data.py and run_pretraining.py.

The TFRecord feature spec (declared in record_schema.PRETRAINING), the
sidecar JSON that says how the data was made (annotator, inventories, labelled
tasks, lengths, every shard's integrity record), and `verify_dataset`, which
reads the sidecars once and refuses a partial or changed data set, or one made
for other lengths, before training.
"""

import collections
import os

from lert import errors
from lert import fileio
from lert import linguistics
from lert.records import record_codec
from lert.records import record_schema


def feature_spec(max_seq_length, max_predictions_per_seq):
  """name -> tf.io.FixedLenFeature of one pretraining instance."""
  return record_schema.PRETRAINING.tf_spec(
      max_seq_length=max_seq_length,
      max_predictions_per_seq=max_predictions_per_seq)


# --- Sidecar ------------------------------------------------------------------------


def sidecar_candidates(input_file):
  """Where the sidecar of `input_file` may be: `<file>.json`, then the directory's."""
  return [input_file + record_schema.SIDECAR_SUFFIX,
          os.path.join(os.path.dirname(input_file), record_schema.DIRECTORY_SIDECAR)]


def _read_sidecars(input_files, explicit_path=None):
  """OrderedDict {sidecar path: (its JSON, [the input files it covers])}; empty
  when no file has one. Each sidecar is read once.

  All files or none: training on a mix of, say, LTP data (DEP labelled) and
  data without a sidecar would train DEP on whatever the latter holds.
  """
  if explicit_path:
    found = {path: explicit_path for path in input_files}
  else:
    found = {}
    for path in input_files:
      for candidate in sidecar_candidates(path):
        if fileio.isfile(candidate):
          found[path] = candidate
          break
    missing = [p for p in input_files if p not in found]
    if found and missing:
      raise errors.UserError("%s has no sidecar (%s) while other input files do" %
                             (missing[0], " or ".join(sidecar_candidates(missing[0]))))
  sidecars = collections.OrderedDict()
  for sidecar_path in sorted(set(found.values())):
    sidecars[sidecar_path] = (fileio.read_json(sidecar_path, "sidecar"),
                              [path for path in input_files if found[path] == sidecar_path])
  return sidecars


def _agreed_sidecar(sidecars):
  """The first of `sidecars` (see _read_sidecars) with its `_path`, once all agree
  on what the data is; None without sidecars.

  Training on a mix of, say, LTP data (DEP labelled) and jieba data (DEP
  absent) would silently train DEP on zeros.
  """
  if not sidecars:
    return None
  first_path = next(iter(sidecars))
  first = sidecars[first_path][0]
  for path, (sidecar, _) in sidecars.items():
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
    "VerifiedDataset", ["labelled_tasks", "num_records", "sidecars", "sidecar"])


def _regenerate_advice(sidecar_path):
  return ("delete it and run create_pretraining_data.py again with the flags %s "
          "records and --output_dir=%s: it rebuilds only the shards that are "
          "missing or changed" % (sidecar_path, os.path.dirname(sidecar_path)))


def _verify_against_sidecar(files, sidecar_path, sidecar, read_contents, input_names=()):
  """Checks the files one sidecar (`sidecar`, read from `sidecar_path`) covers;
  returns the number of records.

  `input_names` are the base names of all the input files: a file of Google-style
  --output_file data (its sidecar's `data_set`) needs the set's other files too.
  """
  data_set = sidecar.get("data_set") or {}
  absent = [path for path in data_set.get("files", [])
            if os.path.basename(path) not in input_names]
  if absent:
    raise errors.UserError(
        "%s is one of %d files made together (%s); %s not among the input files: "
        "pass every file of the set" % (
            sidecar_path, len(data_set["files"]), ", ".join(data_set["files"]),
            ", ".join(absent) + (" is" if len(absent) == 1 else " are")))
  by_name = {os.path.basename(path): path for path in files}
  listed = sidecar.get("files")
  if listed is not None:
    missing = [name for name in listed if name not in by_name]
    if missing:
      raise errors.UserError(
          "%s describes %d shards, but %s %s not among the input files (deleted, "
          "or left out of the input pattern): pass every shard, or regenerate "
          "the missing ones: run create_pretraining_data.py again with the flags "
          "%s records and --output_dir=%s" % (
              sidecar_path, len(listed), ", ".join(missing[:5]),
              "is" if len(missing) == 1 else "are", sidecar_path,
              os.path.dirname(sidecar_path)))
    extra = sorted(set(by_name) - set(listed))
    if extra:
      raise errors.UserError("%s is not one of the shards %s describes (left from "
                             "another run?); move it away" % (by_name[extra[0]],
                                                              sidecar_path))
  shards = sidecar.get("shards", {})
  num_records = 0
  for name, path in sorted(by_name.items()):
    expected = shards.get(name)
    size = fileio.getsize(path)
    if expected is not None and size != expected["bytes"]:
      raise errors.UserError("%s has %d bytes, but %s records %d (cut or changed "
                             "since it was made); %s" % (
                                 path, size, sidecar_path, expected["bytes"],
                                 _regenerate_advice(sidecar_path)))
    if read_contents and expected is not None:
      num_records += record_codec.check_tfrecord(path, expected, sidecar_path,
                                                 _regenerate_advice(sidecar_path))
    elif read_contents:
      num_records += record_codec.scan_tfrecord(path)[0]
    elif expected is not None:
      num_records += expected["records"]
  return num_records


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
      raise errors.UserError(
          "%s holds shards of a %d-shard data set, but %d of them are not among "
          "the input files (e.g. %s) and no sidecar "
          "(%s) says what the set is: pass every shard, or regenerate the data "
          "with create_pretraining_data.py" % (
              directory or ".", count, len(missing),
              record_schema.pretraining_shard_name(missing[0], count),
              record_schema.DIRECTORY_SIDECAR))


def verify_dataset(input_files, sidecar_path=None, labelled_tasks=None,
                   read_contents=True, lengths=None):
  """Refuses input files that are not a whole, unchanged data set.

  With a sidecar (`sidecar_path`, else `<file>.json` or the directory's
  lert_data.json): all sidecars must agree on what the data is (and, given
  `lengths` {"max_seq_length": .., "max_predictions_per_seq": ..}, on the
  run's lengths: check_sidecar, before any shard is read); every shard a
  sidecar lists must be among `input_files`, no other file may be, and each
  must have the bytes, records and sha256 it recorded. Without one: the
  generator's shard names must form whole sets, and the caller must say what
  the data labels (`labelled_tasks`, a list of linguistics.TASKS, possibly
  empty); it is never assumed. With `read_contents` every byte is read
  (framing, CRCs, hash: about as long as reading the data once); without,
  only the set and the sizes are checked.

  Returns VerifiedDataset(labelled_tasks, num_records, sidecars, sidecar):
  num_records is None where nothing says it; sidecars are the paths, sidecar
  the agreed content (_agreed_sidecar's) or None. Raises errors.UserError naming
  the shard, with how to regenerate it. TensorFlow is imported only for
  remote (gs://) paths.
  """
  if labelled_tasks is not None:
    unknown = [t for t in labelled_tasks if t not in linguistics.TASKS]
    if unknown:
      raise errors.UserError("unknown labelled task(s) %s; known: %s" % (
          ", ".join(unknown), ", ".join(linguistics.TASKS)))
  sidecars = _read_sidecars(input_files, sidecar_path)
  if not sidecars:
    _verify_shard_names(input_files)
    if labelled_tasks is None:
      raise errors.UserError(
          "no sidecar (%s, or <file>%s) describes %s, so nothing says which "
          "linguistic tasks the data labels: say it (run_pretraining.py "
          "--labelled_tasks=pos,ner,dep, or empty for none), or regenerate the "
          "data with create_pretraining_data.py, which writes one" % (
              record_schema.DIRECTORY_SIDECAR, record_schema.SIDECAR_SUFFIX, input_files[0]))
    num_records = None
    if read_contents:
      num_records = sum(record_codec.scan_tfrecord(path)[0] for path in input_files)
    return VerifiedDataset(list(labelled_tasks), num_records, [], None)
  agreed = _agreed_sidecar(sidecars)
  if lengths is not None:
    check_sidecar(agreed, lengths["max_seq_length"], lengths["max_predictions_per_seq"])
  input_names = set(os.path.basename(p) for p in input_files)
  num_records = 0
  for path, (sidecar, files) in sidecars.items():
    num_records += _verify_against_sidecar(files, path, sidecar, read_contents,
                                           input_names)
  tasks = agreed.get("labelled_tasks")
  if tasks is None:
    if labelled_tasks is None:
      raise errors.UserError("%s does not say which linguistic tasks the data labels: "
                             "say it (run_pretraining.py --labelled_tasks)" %
                             agreed["_path"])
    tasks = list(labelled_tasks)
  elif labelled_tasks is not None and set(labelled_tasks) != set(tasks):
    raise errors.UserError("the data labels %s (its sidecar says so), not %s as given" %
                           (",".join(tasks) or "nothing",
                            ",".join(labelled_tasks) or "nothing"))
  return VerifiedDataset(tasks, num_records, list(sidecars), agreed)
