"""The `graphmer` command (click): thin wrappers over graphmer.index, graphmer.model and graphmer.lsp."""
