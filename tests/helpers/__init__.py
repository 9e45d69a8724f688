"""Shared test helpers: fixtures' building blocks, local servers, synthetic corpora, probes."""
