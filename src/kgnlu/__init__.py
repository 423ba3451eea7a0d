"""kgnlu: knowledge-graph-augmented NLI, entity linking and relation extraction.

Kept import-light on purpose: the CLI must start fast, so heavy modules load on use.
"""

__version__ = "0.1.0"
