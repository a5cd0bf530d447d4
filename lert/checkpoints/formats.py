# coding=utf-8
"""The files a conversion writes and reads besides TF checkpoints: JSON and safetensors.

safetensors files go through the `safetensors` package (its numpy API), which
every environment of this project installs (requirements/*.txt pin 0.4.5, the
release with wheels for Python 3.7 to 3.12). JSON is read with
fileio.read_json (a clear error naming the file) and written here, indented
and UTF-8, as Hugging Face writes its configs.
"""

import collections
import json

import numpy as np
import safetensors
import safetensors.numpy

from lert import errors
from lert import fileio


def write_json(path, data):
  """Writes `data` as indented UTF-8 JSON, atomically (whole or not at all)."""
  fileio.write_atomically(path, (json.dumps(data, indent=2, ensure_ascii=False) +
                                 "\n").encode("utf-8"))


def save_safetensors(path, tensors, metadata=None):
  """Writes {name: numpy array} as a safetensors file.

  `metadata` defaults to {"format": "pt"}: transformers refuses files
  without it.
  """
  metadata = {"format": "pt"} if metadata is None else metadata
  fileio.write_atomically(path, safetensors.numpy.save(
      {name: np.asarray(value, order="C") for name, value in tensors.items()},
      metadata=metadata))


def _numpy_dtype(name, path, tensor):
  """The numpy dtype of a safetensors dtype name (F32, I64, U8, BOOL, ...)."""
  if name == "BOOL":
    return np.dtype("?")
  kind = {"F": "f", "I": "i", "U": "u"}.get(name[:1])
  if kind is None or not name[1:].isdigit():
    raise errors.UserError("%s: tensor %s has unsupported dtype %s" % (path, tensor, name))
  return np.dtype("<%s%d" % (kind, int(name[1:]) // 8))


def load_safetensors(path):
  """Reads a safetensors file into {name: numpy array}; BF16 becomes float32.

  Read through safetensors.deserialize, not safetensors.numpy.load_file: numpy
  has no bfloat16, the dtype of many Hugging Face checkpoints.
  """
  with open(path, "rb") as reader:
    data = reader.read()
  try:
    views = safetensors.deserialize(data)
  except safetensors.SafetensorError as error:
    raise errors.UserError("%s: not a safetensors file (%s)" % (path, error))
  tensors = collections.OrderedDict()
  for name, view in sorted(views):
    if view["dtype"] == "BF16":
      # bfloat16 is the top half of a float32.
      halves = np.frombuffer(view["data"], dtype="<u2")
      value = (halves.astype(np.uint32) << 16).view(np.float32)
    else:
      value = np.frombuffer(view["data"], dtype=_numpy_dtype(view["dtype"], path, name))
    tensors[name] = value.reshape(view["shape"])
  return tensors
