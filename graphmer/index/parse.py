"""tree-sitter -> symbols and raw references, driven by per-language query files.

The query files (graphmer/index/queries/<language>-tags.scm) are data; this module maps their
captures to records. Python gets two extra rules written in code: import statements
(aliases and relative imports) and docstrings.
"""
from __future__ import annotations

import bisect
import inspect
import re

import tree_sitter as ts

from graphmer.index import languages, pynames
from graphmer.index.records import CALLABLE_KINDS, CLASS_KINDS, ParsedFile, Ref, Symbol

_DOTTED = re.compile(r"(?:super\(\)\.)?[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*")
_TYPE_NAMES = re.compile(r"[A-Za-z_][\w]*(?:(?:\.|::)[A-Za-z_]\w*)*")  # `::`: Rust paths
_WS = re.compile(r"\s+")
_NOT_TYPES = frozenset({"None", "True", "False"})
_SIG_MAX = 300
# Wrappers a definition can sit in; its leading comment is the wrapper's.
_DOC_WRAPPERS = frozenset(
    {
        "export_statement",
        "decorated_definition",
        "declaration_list",
        "type_declaration",  # Go: `type Foo struct` (the definition is its type_spec)
        "lexical_declaration",  # JS/TS: `const f = () => ...` (the definition is its declarator)
        "variable_declaration",
    }
)
# Siblings that may stand between a definition and its leading comment (TS, Rust).
_DOC_SKIP = frozenset({"decorator", "attribute_item"})


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", "replace")


def _signature(node: ts.Node, data: bytes) -> str:
    """Header of a definition: its text up to the body, whitespace collapsed."""
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else min(node.end_byte, node.start_byte + _SIG_MAX * 2)
    if body is not None:  # stop before comments that sit between the header and the body
        for child in node.children:
            if child.start_byte >= end:
                break
            if "comment" in child.type:
                end = child.start_byte
                break
    sig = _WS.sub(" ", data[node.start_byte : end].decode("utf-8", "replace")).strip()
    return sig.rstrip(":{ ").strip()[:_SIG_MAX]


def _python_docstring(block: ts.Node | None) -> str:
    """Docstring of a Python module/class/function body: its first statement, if a string."""
    if block is None:
        return ""
    first = block.named_children[0] if block.named_child_count else None
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return ""
    s = first.named_children[0]
    if s.type != "string":
        return ""
    parts = [_text(c) for c in s.named_children if c.type == "string_content"]
    return inspect.cleandoc("".join(parts)) if parts else ""


_COMMENT_MARKS = re.compile(r"^\s*(?:/\*\*?|\*/|\*|//!|///?|#)\s?", re.M)


def _prev_skipping(node: ts.Node) -> tuple[ts.Node | None, int]:
    """The named sibling before node, past adjacent decorators/attributes, and the row it
    must end on (or after) to be adjacent."""
    row = node.start_point.row
    sib = node.prev_named_sibling
    while sib is not None and sib.type in _DOC_SKIP and sib.end_point.row >= row - 1:
        row = sib.start_point.row
        sib = sib.prev_named_sibling
    return sib, row


def _leading_comment(node: ts.Node) -> str:
    """Comments directly above a definition (JSDoc, Javadoc, // and /// lines)."""
    while node.parent is not None and node.parent.type in _DOC_WRAPPERS and _prev_skipping(node)[0] is None:
        node = node.parent
    lines: list[str] = []
    sib, row = _prev_skipping(node)
    while sib is not None and "comment" in sib.type and sib.end_point.row >= row - 1:
        lines.insert(0, _text(sib).rstrip())  # Rust line comments end with their newline
        row = sib.start_point.row
        sib = sib.prev_named_sibling
    if not lines:
        return ""
    return _clean_comment("\n".join(lines))


def python_imports(node: ts.Node) -> list[tuple[str, str]]:
    """(target, alias) pairs of one import statement; alias "" binds the first component.

    `import os.path` -> [("os.path", "")]; `from . import x as y` -> [(".x", "y")].
    """
    out: list[tuple[str, str]] = []
    if node.type == "import_statement":
        for c in node.children_by_field_name("name"):
            if c.type == "aliased_import":
                out.append((_text(c.child_by_field_name("name")), _text(c.child_by_field_name("alias"))))
            else:
                out.append((_text(c), ""))
        return out
    mod_node = node.child_by_field_name("module_name")
    if mod_node is None:
        return out
    mod = _WS.sub("", _text(mod_node))
    sep = "" if mod.endswith(".") else "."
    if any(c.type == "wildcard_import" for c in node.named_children):
        return [(mod + sep + "*", "*")]
    for c in node.children_by_field_name("name"):
        if c.type == "aliased_import":
            name = _text(c.child_by_field_name("name"))
            out.append((mod + sep + name, _text(c.child_by_field_name("alias"))))
        else:
            name = _text(c)
            out.append((mod + sep + name, name))
    return out


class _Defs:
    """Definitions sorted by start byte, for 'which symbol encloses this position'."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.parent: list[int] = []

    def enclosing(self, pos: int) -> int:
        """Index (into symbols, offset by the module at 0) of the innermost definition at pos."""
        i = bisect.bisect_right(self.starts, pos) - 1
        while i >= 0 and self.ends[i] <= pos:
            i = self.parent[i] - 1  # parent is a symbol index; symbols are defs shifted by one
        return i + 1


_Def = tuple[ts.Node, str, ts.Node, "ts.Node | None"]  # (node, kind, name, receiver)
_RefMatch = tuple[ts.Node, str, list[ts.Node], "ts.Node | None", "ts.Node | None"]  # (node, kind, names, scope, receiver)


def parse_source(data: bytes, path: str, language: str, module: str) -> ParsedFile:
    """Parse one file's bytes into symbols (module first) and references."""
    tree = languages.parser(language).parse(data)
    root = tree.root_node
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    pf = ParsedFile(path=path, language=language, lines=lines)
    if root.has_error:
        caps = ts.QueryCursor(languages.error_query(language)).captures(root)
        pf.syntax_errors = sum(len(v) for v in caps.values()) or 1
    defs, refs = _matches(root, language)
    mod_doc = _python_docstring(root) if language == "python" else _leading_first_comment(root)
    mod_name = module.rsplit(".", 1)[-1]
    pf.symbols.append(Symbol(mod_name, module, "module", 1, max(lines, 1), -1, "", mod_doc, ""))
    index, by_name = _add_definitions(pf, defs, data, language, module)
    _add_references(pf, refs, index, by_name, language)
    if language == "python":  # what completion needs: attribute uses, names set on classes/modules

        def symbol_of_class(node: ts.Node) -> int:
            name = node.child_by_field_name("name")  # not the body: it starts where its first def does
            i = index.enclosing(name.start_byte) if name is not None else -1
            return i if i > 0 and pf.symbols[i].kind in CLASS_KINDS else -1

        pf.attributes = pynames.attribute_defs(root, symbol_of_class)
        pf.attr_uses = pynames.attr_uses(root)
        pf.self_uses = pynames.self_uses(root, symbol_of_class)
    return pf


def _matches(root: ts.Node, language: str) -> tuple[list[_Def], list[_RefMatch]]:
    """The tags query's definition and reference matches, in match order."""
    defs: list[_Def] = []
    # (node, kind, names, scope, receiver): see _ref_targets for scope; a receiver makes the
    # same-file class-like symbol of that name the source (Rust `impl Trait for Foo`), and
    # without one the reference is dropped.
    refs: list[_RefMatch] = []
    query = languages.query(language)
    for _, caps in ts.QueryCursor(query).matches(root):
        role = next(k for k in caps if k.startswith(("definition.", "reference.")))
        node = caps[role][0]
        kind = role.split(".", 1)[1]
        if role.startswith("definition."):
            names = caps.get("name")
            if names:
                rec = caps.get("receiver")
                defs.append((node, kind, names[0], rec[0] if rec else None))
        else:
            scope, rec = caps.get("scope"), caps.get("receiver")
            refs.append((node, kind, caps.get("name", []), scope[0] if scope else None, rec[0] if rec else None))
    return defs, refs


def _add_definitions(pf: ParsedFile, defs: list[_Def], data: bytes, language: str, module: str) -> tuple[_Defs, dict[str, int]]:
    """Append the definitions to pf.symbols, outer ones first; (the enclosing-definition index,
    {class-like name: first symbol index of that name})."""
    # Outer definitions first; a node captured twice (two patterns) is kept once.
    defs.sort(key=lambda d: (d[0].start_byte, -d[0].end_byte))
    index = _Defs()
    seen: set[tuple[int, int]] = set()
    by_name: dict[str, int] = {}
    for node, kind, name_node, receiver in defs:
        key = (node.start_byte, node.end_byte)
        if key in seen:
            continue
        seen.add(key)
        parent = index.enclosing(node.start_byte)
        name = _text(name_node)
        parent_sym = pf.symbols[parent]
        qual_prefix = parent_sym.qualname
        if receiver is not None and parent == 0:
            rname = _text(receiver)
            parent = by_name.get(rname, 0)
            qual_prefix = f"{module}.{rname}"
            kind = "method"
        elif kind == "function" and parent_sym.kind in CLASS_KINDS:
            kind = "method"
        if language == "python":
            doc = _python_docstring(node.child_by_field_name("body"))
        else:
            doc = _leading_comment(node)
        body = _text(node) if kind in CALLABLE_KINDS else ""
        sym = Symbol(
            name=name,
            qualname=f"{qual_prefix}.{name}",
            kind=kind,
            start_line=node.start_point.row + 1,
            end_line=node.end_point.row + 1 - (1 if node.end_point.column == 0 and node.end_point.row > node.start_point.row else 0),
            parent=parent,
            signature=_signature(node, data),
            doc=doc,
            body=body,
        )
        pf.symbols.append(sym)
        if kind in CLASS_KINDS:
            by_name.setdefault(name, len(pf.symbols) - 1)
        index.starts.append(node.start_byte)
        index.ends.append(node.end_byte)
        index.parent.append(parent)
    return index, by_name


def _ref_position(node: ts.Node, kind: str) -> int:
    """The byte whose enclosing definition is a reference's source: a decorator (or a TS decorator,
    a Rust attribute) belongs to the definition after it."""
    pos = node.start_byte
    if kind == "decorator" and node.parent is not None and node.parent.type == "decorated_definition":
        target_def = node.parent.child_by_field_name("definition")
        if target_def is not None:
            pos = target_def.start_byte
    elif node.type in _DOC_SKIP:
        # TS decorators, Rust attributes: siblings before the definition they belong to.
        nxt = node.next_named_sibling
        while nxt is not None and (nxt.type in _DOC_SKIP or "comment" in nxt.type):
            nxt = nxt.next_named_sibling
        if nxt is not None:
            pos = nxt.start_byte
    return pos


def _add_references(pf: ParsedFile, refs: list[_RefMatch], index: _Defs, by_name: dict[str, int], language: str) -> None:
    """Append each reference once per (source, kind, target, alias) to pf.refs."""
    seen_refs: set[tuple[int, str, str]] = set()
    for node, kind, names, scope, receiver in refs:
        pos = _ref_position(node, kind)
        if kind == "call" and node.parent is not None and node.parent.type == "decorator":
            continue  # `@deco(args)` is recorded as a decorator reference
        source = index.enclosing(pos)
        if receiver is not None:
            if _text(receiver) not in by_name:
                continue  # the type is defined elsewhere; the module is not the source
            source = by_name[_text(receiver)]
        line = node.start_point.row + 1
        for target, alias in _ref_targets(language, node, kind, names, scope):
            k = (source, kind, target + "=" + alias)
            if k in seen_refs:
                continue
            seen_refs.add(k)
            pf.refs.append(Ref(source, kind, target, line, alias))


def _leading_first_comment(root: ts.Node) -> str:
    """A file's header comment (non-Python module doc)."""
    first = root.named_children[0] if root.named_child_count else None
    if first is None or "comment" not in first.type:
        return ""
    return _clean_comment(_text(first))


def _clean_comment(text: str) -> str:
    """Comment text without its markers: _clean_comment("/** Load it. */") -> "Load it."."""
    return inspect.cleandoc(_COMMENT_MARKS.sub("", text).replace("*/", "")).strip()  # `/** x */` leaves a space


def _ref_targets(
    language: str, node: ts.Node, kind: str, names: list[ts.Node], scope: ts.Node | None = None
) -> list[tuple[str, str]]:
    """(target, alias) pairs a reference match stands for.

    A `@scope` capture is prefixed to the name, for targets no single node spells:
    Java `db.query(x)` (scope `db`, name `query`), Rust `use a::{b, c}` (scope `a`).
    """
    prefix = ""
    if scope is not None:
        prefix = _WS.sub("", _text(scope)) + ("::" if language == "rust" else ".")
    if kind == "import":
        if language == "python":
            return python_imports(node)
        return [(prefix + _text(n).strip("\"'`"), "") for n in names]
    out: list[tuple[str, str]] = []
    for n in names:
        if kind in ("param_type", "returns"):
            for m in _TYPE_NAMES.findall(_text(n)):
                if m not in _NOT_TYPES:
                    out.append((m, ""))
            continue
        if kind == "raise" and n.parent is not None and n.parent.child_by_field_name("cause") == n:
            continue
        t = prefix + _WS.sub("", _text(n))
        if kind == "call" and t == "super":
            continue  # `super().m()` is recorded as a call of the base's m
        if _DOTTED.fullmatch(t):
            out.append((t, ""))
    return out
