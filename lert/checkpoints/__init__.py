"""Checkpoints and the formats they are converted to.

`checkpoint_names` is the one map between LERT's TF variable names and Hugging
Face's (pure Python and numpy). `tf_checkpoints` finds, verifies and reads TF
checkpoints and warm-starts a graph from one, reporting what was restored;
`inventory` groups a checkpoint's (or a config's) variables and counts them;
`formats` reads and writes the JSON and safetensors files of a Hugging Face
directory.

Flow: convert_lert_to_hf.py reads a checkpoint (tf_checkpoints), checks its
shapes against the config's (inventory), renames (checkpoint_names) and writes
safetensors (formats); convert_hf_to_lert.py runs the same pieces backwards;
inspect_checkpoint.py prints an inventory; the training scripts warm-start
through tf_checkpoints.init_from_checkpoint.
"""
