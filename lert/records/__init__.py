"""The TFRecord data contract: what a record holds, and its bytes on disk.

`record_schema` declares every record type once (field names, lengths,
dtypes) and names the sharded files (`pretraining-SSSSS-of-NNNNN.tfrecord`);
from it come the TensorFlow parsing spec that training reads with and the
sidecar's feature_spec. `record_codec` turns values into tf.train.Example
bytes by that declaration and frames them as TFRecord files (and reads the
framing back, CRCs checked) without importing TensorFlow: the generator
writes with it, lert.pretrain checks data sets with it.
"""
