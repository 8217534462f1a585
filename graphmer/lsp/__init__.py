"""graphmer lsp package."""
