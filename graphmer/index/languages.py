"""Languages graphmer parses: file extensions, tree-sitter grammars and query files."""
from __future__ import annotations

import functools
from importlib import resources
from pathlib import PurePosixPath

import tree_sitter as ts

# extension -> language name
EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".java": "java",
    ".go": "go",
    ".rs": "rust",
}
LANGUAGES = tuple(sorted(set(EXTENSIONS.values())))


def detect_language(path: str) -> str | None:
    """Language of a file from its extension: detect_language("a/b.tsx") -> "tsx"."""
    return EXTENSIONS.get(PurePosixPath(path).suffix.lower())


def _grammar(language: str):
    if language == "python":
        import tree_sitter_python as m  # lazy: only the grammars of the languages met load

        return m.language()
    if language == "javascript":
        import tree_sitter_javascript as m  # lazy: only the grammars of the languages met load

        return m.language()
    if language == "typescript":
        import tree_sitter_typescript as m  # lazy: only the grammars of the languages met load

        return m.language_typescript()
    if language == "tsx":
        import tree_sitter_typescript as m  # lazy: only the grammars of the languages met load

        return m.language_tsx()
    if language == "java":
        import tree_sitter_java as m  # lazy: only the grammars of the languages met load

        return m.language()
    if language == "go":
        import tree_sitter_go as m  # lazy: only the grammars of the languages met load

        return m.language()
    if language == "rust":
        import tree_sitter_rust as m  # lazy: only the grammars of the languages met load

        return m.language()
    raise ValueError(f"unsupported language: {language}")


@functools.cache
def ts_language(language: str) -> ts.Language:
    return ts.Language(_grammar(language))


@functools.cache
def parser(language: str) -> ts.Parser:
    return ts.Parser(ts_language(language))


def query_source(language: str) -> str:
    """The tags query for a language (tsx shares typescript's)."""
    name = "typescript" if language == "tsx" else language
    return resources.files("graphmer.index").joinpath(f"queries/{name}-tags.scm").read_text()


@functools.cache
def query(language: str) -> ts.Query:
    return ts.Query(ts_language(language), query_source(language))


@functools.cache
def error_query(language: str) -> ts.Query:
    return ts.Query(ts_language(language), "(ERROR) @error (MISSING) @missing")
