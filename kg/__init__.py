"""The symbolic side of kgnlu: store, ingest, reasoning, lexicon and rules. Never imports torch."""
