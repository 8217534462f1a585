"""Text helpers for lexical search: identifier splitting and query terms."""
from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z0-9]+")
# Words too common in queries to help ranking (and costly as FTS5 OR terms).
STOPWORDS = frozenset(
    """a an and are as at be been by for from has have if in into is it its of on or
    that the this to was were will with which when what where who whether this these those
    can may should would not no do does""".split()
)


def split_identifier(name: str) -> list[str]:
    """Sub-words of an identifier, lower-cased.

    split_identifier("parseHTTPConfig_file2") -> ["parse", "http", "config", "file2"]
    """
    return [w.lower() for w in _WORD.findall(_CAMEL.sub(" ", name))]


def split_code(text: str) -> str:
    """Code text with camelCase boundaries opened up, for a tokenizer that splits on `_`.

    split_code("fileReader.readAll()") -> "file Reader.read All()"
    """
    return _CAMEL.sub(" ", text) if text else ""


def identifier_terms(qualname: str) -> str:
    """Searchable words of a qualified name: identifier_terms("a.parseConfig") -> "a parse config"."""
    return " ".join(split_identifier(qualname))


def query_terms(query: str) -> list[str]:
    """Distinct search terms of a query, in order, stopwords dropped.

    query_terms("Parse the configFile of a repo") -> ["parse", "config", "file", "repo"]
    """
    out: list[str] = []
    for w in split_identifier(query):
        if w not in STOPWORDS and w not in out:
            out.append(w)
    return out
