"""Loaders: source specs (loaders/*.yaml), streaming checks, rejects, pseudonymisation, batches.

`spec` reads and validates the YAML specs (located L-codes, docs/loaders.md); `read` streams a
file as Arrow batches of raw text; `transform` converts and checks a batch, vectorised;
`store` owns the engine side (staging, persons, facts, lineage, unload); `run` ties them
together for `labis load`.
"""
