# coding=utf-8
"""LERT's POS/NER/DEP heads in PyTorch, on top of transformers' BertForMaskedLM.

A directory written by convert_lert_to_hf.py holds the BERT weights
(`model.safetensors`) and the linguistic heads (`lert_heads.safetensors`,
described by `lert_heads_config.json`).  This module puts them together:

  import transformers, lert_heads_torch
  model = lert_heads_torch.LertForLinguisticTagging.from_pretrained("lert-hf")
  tokenizer = transformers.BertTokenizer.from_pretrained("lert-hf")
  for tag in model.predict_tags("哈工大位于冰城哈尔滨。", tokenizer):
      print(tag["token"], tag["pos"], tag["ner"], tag["dep"])

As in LERT's pretraining, every head is one linear layer applied to
the output of the MLM head's shared transform (dense, activation, LayerNorm),
so MLM and tags come from the same transformed vector of each token.  The
heads were trained at masked positions; applied to an unmasked sentence they
tag every token, which is what users of the released heads ask for.
"""

import os

import numpy as np
import torch
import transformers

from lert.checkpoints import checkpoint_names
from lert import fileio
from lert.checkpoints import formats
def _load_mlm_model(model_dir):
  """BertForMaskedLM of `model_dir`; raises ValueError if weights are missing.

  transformers would warn about the pooler, which the export keeps for
  BertModel but BertForMaskedLM lacks, and would only warn (and initialise
  randomly) for missing weights; here the first is expected and the second
  is an error.
  """
  verbosity = transformers.logging.get_verbosity()
  transformers.logging.set_verbosity_error()
  try:
    model, info = transformers.BertForMaskedLM.from_pretrained(
        model_dir, output_loading_info=True)
  finally:
    transformers.logging.set_verbosity(verbosity)
  unexpected = [k for k in info["unexpected_keys"] if not k.startswith("bert.pooler.")]
  problems = info["missing_keys"] + unexpected + [
      str(k) for k in info["mismatched_keys"]] + list(info["error_msgs"])
  if problems:
    raise ValueError("%s: weights do not fit BertForMaskedLM: %s" % (
        model_dir, ", ".join(problems)))
  return model


class LertForLinguisticTagging(torch.nn.Module):
  """BertForMaskedLM plus one linear head per linguistic task.

  Attributes:
    mlm_model: the transformers BertForMaskedLM.
    heads: ModuleDict task -> torch.nn.Linear(hidden_size, num_labels).
    labels: dict task -> list of label names (ids index into it).
  """

  def __init__(self, mlm_model, labels):
    super(LertForLinguisticTagging, self).__init__()
    self.mlm_model = mlm_model
    self.labels = {task: list(names) for task, names in labels.items()}
    hidden = mlm_model.config.hidden_size
    self.heads = torch.nn.ModuleDict(
        (task, torch.nn.Linear(hidden, len(names))) for task, names in labels.items())

  @classmethod
  def from_pretrained(cls, model_dir):
    """Loads BertForMaskedLM and the heads of a converted directory.

    Raises ValueError naming the file when the heads are absent (the
    checkpoint had none) or do not fit this code's inventories.
    """
    heads_path = os.path.join(model_dir, checkpoint_names.HEADS_FILE)
    config_path = os.path.join(model_dir, checkpoint_names.HEADS_CONFIG_FILE)
    for path in (heads_path, config_path):
      if not os.path.exists(path):
        raise ValueError("%s not found: this directory has no linguistic heads "
                         "(convert a LERT TF checkpoint that has them)" % path)
    config = fileio.read_json(config_path, "heads config", ordered=True)
    weights = formats.load_safetensors(heads_path)
    checkpoint_names.check_heads_config(config, weights, config_path)
    mlm_model = _load_mlm_model(model_dir)
    model = cls(mlm_model, {task: config["labels"][task] for task in config["tasks"]})
    state = {}
    for task in config["tasks"]:
      for leaf in ("weight", "bias"):
        state["%s.%s" % (task, leaf)] = torch.from_numpy(
            np.array(weights["%s.%s" % (task, leaf)], dtype=np.float32))
    model.heads.load_state_dict(state, strict=True)
    model.eval()
    return model

  def forward(self, input_ids, attention_mask=None, token_type_ids=None):
    """Per-token logits.

    Args:
      input_ids, attention_mask, token_type_ids: [B, S] tensors as for BERT.

    Returns:
      dict: "sequence_output" [B, S, H] (final encoder layer), "mlm"
      [B, S, vocab_size], and per task [B, S, num_labels].
    """
    sequence = self.mlm_model.bert(
        input_ids=input_ids, attention_mask=attention_mask,
        token_type_ids=token_type_ids).last_hidden_state
    predictions = self.mlm_model.cls.predictions
    transformed = predictions.transform(sequence)
    outputs = {"sequence_output": sequence,
               "mlm": predictions.decoder(transformed)}
    for task, head in self.heads.items():
      outputs[task] = head(transformed)
    return outputs

  def predict_tags(self, text, tokenizer):
    """Tags every word piece of `text`.

    Args:
      text: a string.
      tokenizer: anything with `tokenize` and `convert_tokens_to_ids`
        (transformers' BertTokenizer, or tokenization.FullTokenizer).

    Returns:
      one dict per token: {"token": piece, task: label name, ...}.

    Raises:
      ValueError: the text does not fit into max_position_embeddings.
    """
    tokens = tokenizer.tokenize(text)
    limit = self.mlm_model.config.max_position_embeddings - 2
    if len(tokens) > limit:
      raise ValueError("text has %d tokens; the model takes at most %d" %
                       (len(tokens), limit))
    ids = tokenizer.convert_tokens_to_ids(["[CLS]"] + tokens + ["[SEP]"])
    device = next(self.parameters()).device
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)
    with torch.no_grad():
      outputs = self.forward(input_ids, torch.ones_like(input_ids),
                             torch.zeros_like(input_ids))
    tags = []
    for position, token in enumerate(tokens, start=1):  # skip [CLS]
      tag = {"token": token}
      for task in self.heads:
        tag[task] = self.labels[task][int(outputs[task][0, position].argmax())]
      tags.append(tag)
    return tags
