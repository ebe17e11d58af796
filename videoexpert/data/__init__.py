"""Training data: examples built from (video features, question, answer with [LOC]s, windows) and their batching.

Import the modules themselves (`videoexpert.data.collate`, `.features`, `.sources`, `.annotations`): `annotations`
(the benchmark file readers, shared with `videoexpert.eval`) imports without torch, the others need it. Nothing is
re-exported here, so `videoexpert.data.collate` is always the module and never its function of the same name.
"""
