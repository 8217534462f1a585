"""Benchmarks: search, completion, indexing, export, training and editor-feature measurements.

This package may import any other part of graphmer; nothing outside graphmer/bench, graphmer/cli
and tests imports it.
"""
