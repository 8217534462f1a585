"""graphmer: code search and navigation over a code knowledge graph, with a GraphMER encoder.

Subpackages: graphmer.index (parse, graph, store, search; no torch), graphmer.model (the
encoder: training on torch, inference on ONNX Runtime), graphmer.lsp (the language server),
graphmer.cli (the `graphmer` command). See the README's "Development" section.
"""
