"""Training: supervision generated from the KG (``nli_data``), the trainer and its evaluation.

Nothing is imported here: ``kgnlu.training.nli_data`` needs no torch, and the CLI must start fast.
"""
