# coding=utf-8
"""Google's `--output_file`: the built shards dealt into the files it names.

google-research/bert's generator shuffles all of its instances together and
writes instance i to output file i % len(outputs). So does this: the shards
are built as ever (in the work directory, options.Options.resolved_output_dir), then
their records, checked against the shards' sha256, are shuffled together with
a seed of `--random_seed` and dealt round-robin. Like Google's, this holds
every instance in memory (serialized, far smaller than Google's objects);
`--output_dir` is the way at corpus scale.

`finalize` is the step after the last shard, whichever driver ran the shards
(the local processes, --stage=finalize after several hosts, or the Beam
pipeline's last step): it writes the sidecar, or fills the --output_file files.

Each output file gets its own sidecar, `<file>.json`, since the files may lie
in different directories: it lists that file (with its records, bytes and
sha256, as pretraining_data.verify_dataset checks) and, under `data_set`, all
of them; the statistics are the whole set's.
"""

import hashlib
import os
import random

from lert import fileio
from lert.generator import data_stats
from lert.generator import options as options_lib
from lert.generator import progress
from lert.generator import shard_jobs
from lert.records import record_codec
from lert.records import record_schema


def merge_seed(random_seed):
  """The seed of the shuffle across shards (no shard uses it)."""
  digest = hashlib.sha256(b"lert-data-merge:%d" % random_seed).digest()
  return int.from_bytes(digest[:8], "big")


def finalize(options: options_lib.Options, manifest, identity):
  """After the last shard: writes the sidecar (for --output_file, fills the
  files and their sidecars); returns the set's sidecar."""
  sidecar = data_stats.make_sidecar(options, manifest, identity)
  if options.output_files():
    return fill_output_files(options, sidecar)
  data_stats.write_sidecar(options.output_dir, sidecar)
  return sidecar


def fill_output_files(options: options_lib.Options, sidecar):
  """Writes the `--output_file` files and their sidecars; returns the set's."""
  work_dir = options.resolved_output_dir()
  records = []
  for name in sidecar["files"]:
    record_codec.check_tfrecord(
        os.path.join(work_dir, name), sidecar["shards"][name],
        progress.progress_path(work_dir, name),
        "delete it and run again to rebuild it", bodies=records)
  random.Random(merge_seed(options.random_seed)).shuffle(records)
  paths = options.output_files()
  shards = {}
  for index, path in enumerate(paths):
    shards[path] = shard_jobs.write_records(path, records[index::len(paths)])
  data_set = {"files": paths, "num_instances": len(records),
              "work_dir": work_dir}
  for path in paths:
    name = os.path.basename(path)
    own = dict(sidecar, files=[name], shards={name: shards[path]},
               num_instances=shards[path]["records"], data_set=data_set)
    fileio.write_atomically(path + record_schema.SIDECAR_SUFFIX,
                            fileio.json_bytes(own))
  progress.log("wrote %d instances into %d file(s) as Google's generator "
               "does (shuffled, instance i into file i %% %d), each with its "
               "sidecar <file>%s; the shards and the annotation cache stay "
               "in %s" % (len(records), len(paths), len(paths),
                          record_schema.SIDECAR_SUFFIX, work_dir))
  return dict(sidecar, files=paths, shards=shards, data_set=data_set)
