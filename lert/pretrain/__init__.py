"""Pretraining's data contract and prediction, between the generator and the model.

`pretraining_data` is the contract between create_pretraining_data.py and
run_pretraining.py: the feature spec of a record (from
lert.records.record_schema), the sidecar JSON that says how the data was made,
and `verify_dataset`, which reads the sidecars once and refuses a partial,
changed or mismatched data set before training starts.

`prediction` is `run_pretraining.py --do_predict`: [MASK]ed sentences are read
and cut into windows the model takes, fed to the estimator, and each masked
position's MLM candidates and POS/NER/DEP tags written as JSON lines.
"""
