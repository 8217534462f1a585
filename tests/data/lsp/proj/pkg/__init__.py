"""A tiny package for the language-server tests."""
