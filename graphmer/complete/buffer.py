"""The open buffer as completion sees it: a tree-sitter parse of the buffer (possibly broken)
with its scopes, local bindings, classes and attribute uses (the text at the cursor is
cursor.py's).

The identifier at the cursor is replaced by a placeholder before parsing (and unclosed
brackets on the cursor line are closed when nothing follows), so `self.console.` parses as
an attribute access and the cursor's enclosing function survives error recovery.
"""
from __future__ import annotations

import re
from collections import Counter

import tree_sitter as ts

from graphmer.complete.cursor import closers, split_lines
from graphmer.index import languages, pynames
from graphmer.index.parse import python_imports
from graphmer.index.pynames import (
    expr_value,
    norm_receiver,
    param_annotation,
    target_names,
    value_of,
)

PLACEHOLDER = "__graphmer_cursor__"
_COMPREHENSIONS = frozenset({"list_comprehension", "set_comprehension", "dictionary_comprehension", "generator_expression"})
_IDENT_HEAD = re.compile(r"\w*")
# Statements a name binding can sit in without opening a new scope.
_BLOCKS = frozenset(
    {"block", "if_statement", "elif_clause", "else_clause", "for_statement", "while_statement", "try_statement",
     "except_clause", "finally_clause", "with_statement", "match_statement", "case_clause", "decorated_definition",
     "expression_statement", "module"}
)
_DEFS = frozenset({"function_definition", "class_definition"})


class Buffer:
    """A parsed buffer with the cursor's scope chain (innermost first, module excluded)."""

    def __init__(self, source: str, line: int, column: int, prefix: str) -> None:
        lines = split_lines(source)
        line = min(max(line, 0), len(lines) - 1)
        text = lines[line]
        column = min(max(column, 0), len(text))
        start = column - len(prefix)
        rest = text[column:]
        rest = rest[_IDENT_HEAD.match(rest).end() :]
        head = text[:start] + PLACEHOLDER
        lines[line] = head + (rest if rest.strip() else closers(head))
        self.line = line
        self._lines = lines  # the parsed text's lines (the cursor's holds the placeholder)
        self.tree = languages.parser("python").parse("\n".join(lines).encode("utf-8"))
        self.root = self.tree.root_node
        point = (line, len(text[:start].encode("utf-8")))
        node = self.root.descendant_for_point_range(point, point)
        self.chain: list[ts.Node] = []
        # names the comprehensions around the cursor bind (`[c.x for c in cols if c.`), innermost first
        self.comprehension_names: dict[str, str] = {}
        while node is not None:
            if node.type in _DEFS:
                self.chain.append(node)
            elif node.type in _COMPREHENSIONS:
                func = _enclosing_function(node)
                for clause in (c for c in node.named_children if c.type == "for_in_clause"):
                    left, right = clause.child_by_field_name("left"), clause.child_by_field_name("right")
                    for n, value in loop_targets(left, right, func) if left is not None else []:
                        self.comprehension_names.setdefault(_t(n), value)
            node = node.parent
        self._scopes: dict[int, dict[str, tuple[str, str]]] = {}
        self._classes: dict[str, ts.Node] | None = None
        self._dests: list[str] | None = None
        self._sites: list[tuple[str, str, int, str]] | None = None
        self._self: dict[str, Counter] | None = None
        self._counts: Counter | None = None
        self._attrs: dict[int, dict[str, str]] = {}  # class_attributes by class node
        self._props: dict[int, frozenset[str]] = {}  # properties by class node

    def use_sites(self) -> list[tuple[str, str, int, str]]:
        """(receiver, name, row, context token) of the attribute uses in the buffer, the cursor's excluded."""
        if self._sites is None:
            self._sites = pynames.attr_use_sites(self.root, skip=PLACEHOLDER)
        return self._sites

    def properties(self, cls: ts.Node) -> frozenset[str]:
        """Names of a buffer class's methods decorated as properties (`@property`,
        `@cached_property`, `@x.setter`): read as attributes, not called."""
        if cls.id not in self._props:
            self._props[cls.id] = self._properties(cls)
        return self._props[cls.id]

    def _properties(self, cls: ts.Node) -> frozenset[str]:
        out = set()
        body = cls.child_by_field_name("body")
        for c in body.named_children if body is not None else ():
            if c.type != "decorated_definition":
                continue
            d = c.child_by_field_name("definition")
            decos = [_t(x.named_children[0]) for x in c.named_children if x.type == "decorator" and x.named_children]
            if d is not None and d.child_by_field_name("name") is not None and any(is_property_decorator(x) for x in decos):
                out.add(_t(d.child_by_field_name("name")))
        return frozenset(out)

    def definition_rows(self, cls: ts.Node) -> dict[str, int]:
        """name -> row of the methods, nested classes and assigned names directly in a class body."""
        out: dict[str, int] = {}
        body = cls.child_by_field_name("body")
        for c in body.named_children if body is not None else ():
            if c.type == "decorated_definition":
                c = c.child_by_field_name("definition") or c
            if c.type in _DEFS and c.child_by_field_name("name") is not None:
                out.setdefault(_t(c.child_by_field_name("name")), c.start_point.row)
            elif c.type == "expression_statement" and c.named_children and c.named_children[0].type == "assignment":
                left = c.named_children[0].child_by_field_name("left")
                for n in target_names(left) if left is not None else []:
                    out.setdefault(_t(n), c.start_point.row)
        return out

    def text_around(self, node: ts.Node | None, span: int = 30) -> str:
        """The text of a scope node (of the `span` lines either side of the cursor when None),
        the cursor's line left out."""
        a, b = (node.start_point.row, node.end_point.row) if node is not None else (self.line - span, self.line + span)
        return "\n".join(self._lines[max(a, 0) : self.line] + self._lines[self.line + 1 : b + 1])

    def use_counts(self) -> Counter:
        """Counter of (receiver, name) attribute uses in the buffer, the cursor's excluded (read only)."""
        if self._counts is None:
            self._counts = Counter((r, n) for r, n, _, _ in self.use_sites())
        return self._counts

    def self_uses(self, module: str) -> dict[str, Counter]:
        """Class qualname -> `self.name` / `cls.name` counts in its rows, the cursor's excluded: the
        innermost class (outside functions) around each use. The indexer's self_uses counts the
        same uses by the method's class; this reuses use_sites instead of a second query."""
        if self._self is None:
            spans = sorted((n.start_point.row, -n.end_point.row, q) for q, n in self.classes().items())
            self._self = {}
            for r, name, row, _ in self.use_sites():
                if r in ("self", "cls"):
                    q = next((q for a, b, q in reversed(spans) if a <= row <= -b), None)
                    if q is not None:
                        self._self.setdefault(f"{module}.{q}", Counter())[name] += 1
        return self._self

    def scope_names(self, node: ts.Node) -> dict[str, tuple[str, str]]:
        """Names bound directly in a scope node: name -> (kind, value encoding or import target).

        Kinds: "parameter", "variable", "function", "class", "import" (value: the absolute-ish
        import target as written, relative dots kept).
        """
        key = node.id
        if key not in self._scopes:
            out: dict[str, tuple[str, str]] = {}
            func = node if node.type == "function_definition" else None
            if func is not None:
                for p in func.child_by_field_name("parameters").named_children:
                    name = _param_name(p)
                    if name:
                        ann = param_annotation(func, name)
                        out[name] = ("parameter", ":" + ann if ann else "")
            body = node.child_by_field_name("body") if node.type in _DEFS else node
            if body is not None:
                self._bind(body, func, out)
            self._scopes[key] = out
        return self._scopes[key]

    def _bind(self, node: ts.Node, func: ts.Node | None, out: dict) -> None:
        """Walk statements (not into nested scopes), recording bindings; a later assignment
        before the cursor line wins over an earlier one, one after it never does."""
        for c in node.named_children:
            t = c.type
            if t == "decorated_definition":
                c = c.child_by_field_name("definition") or c
                t = c.type
            if t in _DEFS:
                name = c.child_by_field_name("name")
                if name is not None:
                    out[_t(name)] = ("function" if t == "function_definition" else "class", "")
            elif t == "assignment":
                left = c.child_by_field_name("left")
                names = target_names(left) if left is not None else []
                if left is not None and left.type in ("pattern_list", "tuple_pattern") and c.child_by_field_name("right") is not None:
                    bound = unpacked(list(left.named_children), expr_value(c.child_by_field_name("right"), func))
                else:
                    bound = [(n, value_of(c, func) if len(names) == 1 else "") for n in names]
                for n, value in bound:
                    # `x = x.` on the cursor's line: x is still what it was before
                    if _t(n) not in out or c.start_point.row < self.line:
                        out[_t(n)] = ("variable", rebound(_t(n), value, out.get(_t(n), ("", ""))[1]))
            elif t in ("import_statement", "import_from_statement"):
                for target, alias in python_imports(c):
                    if alias != "*":
                        out[alias or target.split(".")[0]] = ("import", target if alias else target.split(".")[0])
            elif t in ("for_statement", "with_statement", "except_clause"):
                for n, value in _loose_targets(c, func):
                    if _t(n) not in out or (value and c.start_point.row < self.line):
                        out[_t(n)] = ("variable", value)
                self._bind(c, func, out)
            elif t in _BLOCKS:
                self._bind(c, func, out)

    def classes(self) -> dict[str, ts.Node]:
        """Every class of the buffer outside functions by its qualified name below the module ("A", "A.B")."""
        if self._classes is None:
            self._classes = {}
            stack = [(self.root, "")]
            while stack:
                node, prefix = stack.pop()
                for c in node.named_children:
                    if c.type == "class_definition":
                        name = c.child_by_field_name("name")
                        if name is not None:
                            q = prefix + _t(name)
                            self._classes[q] = c
                            stack.append((c.child_by_field_name("body") or c, q + "."))
                    elif c.type in _BLOCKS or c.type == "ERROR":
                        stack.append((c, prefix))
        return self._classes

    def argparse_dests(self) -> list[str]:
        """The names the buffer's `add_argument` calls give an argparse namespace (pynames.argparse_dests)."""
        if self._dests is None:
            self._dests = pynames.argparse_dests(self.root)
        return self._dests

    def class_attributes(self, cls: ts.Node) -> dict[str, str]:
        """Names a buffer class sets (body assignments, self.x in methods) -> value encoding
        (read only: one dict per class, kept for the request)."""
        if cls.id not in self._attrs:
            attrs = pynames.attribute_defs(cls, lambda n: 1 if n == cls else -1)
            self._attrs[cls.id] = {a.name: a.value for a in attrs if a.owner == 1}
        return self._attrs[cls.id]

    def class_bases(self, cls: ts.Node) -> list[str]:
        """The base class expressions of a buffer class, as written (`Base[T]` is Base)."""
        sup = cls.child_by_field_name("superclasses")
        bases = [b.child_by_field_name("value") if b.type == "subscript" else b for b in (sup.named_children if sup is not None else ())]
        return [norm_receiver(_t(b)) for b in bases if b is not None and b.type in ("identifier", "attribute")]

    def qualname_below_module(self, node: ts.Node) -> str:
        """Dotted names of the definitions from the module down to node ("A.m")."""
        parts = []
        while node is not None:
            if node.type in _DEFS:
                name = node.child_by_field_name("name")
                parts.append(_t(name) if name is not None else "")
            node = node.parent
        return ".".join(reversed(parts))


def is_property_decorator(name: str) -> bool:
    """Whether a decorator (its dotted name as written or resolved) makes a property."""
    last = name.rsplit(".", 1)[-1]
    return last in ("property", "cached_property") or ("." in name and last in ("setter", "getter", "deleter"))


def _enclosing_function(node: ts.Node) -> ts.Node | None:
    while node is not None and node.type != "function_definition":
        node = node.parent
    return node


def _t(node: ts.Node) -> str:
    return node.text.decode("utf-8", "replace")


def _param_name(p: ts.Node) -> str:
    if p.type == "identifier":
        return _t(p)
    if p.type in ("typed_parameter", "default_parameter", "typed_default_parameter", "list_splat_pattern", "dictionary_splat_pattern"):
        n = p.child_by_field_name("name")
        if n is None:
            n = next((c for c in p.named_children if c.type == "identifier"), None)
            if n is None and p.named_children and p.named_children[0].type in ("list_splat_pattern", "dictionary_splat_pattern"):
                return _param_name(p.named_children[0])
        return _t(n) if n is not None else ""
    return ""


def _loose_targets(stmt: ts.Node, func: ts.Node | None) -> list[tuple[ts.Node, str]]:
    """(name, value encoding) bound by `for x in`, `with a as x`, `except E as x`: `with f() as x`
    binds what f() gives (a context manager's __enter__ most often returns itself), the others ""."""
    if stmt.type == "for_statement":
        left, right = stmt.child_by_field_name("left"), stmt.child_by_field_name("right")
        return loop_targets(left, right, func) if left is not None else []
    out = []
    for n in _descend(stmt, ("as_pattern",), stop=("block",)):
        alias = n.child_by_field_name("alias")
        for c in [alias] if alias is not None else []:
            if c.type != "identifier":
                c = c.named_children[0] if c.type == "as_pattern_target" and len(c.named_children) == 1 else c
            if c.type == "identifier":
                value = expr_value(n.named_children[0], func) if stmt.type == "with_statement" and n.named_children else ""
                out.append((c, value))
            else:
                out += [(x, "") for x in _descend(c, ("identifier",), stop=())]
    return out


def loop_targets(left: ts.Node, right: ts.Node | None, func: ts.Node | None) -> list[tuple[ts.Node, str]]:
    """(name, value encoding) bound by `for LEFT in RIGHT`: "@" + the iterable's encoding for an
    element (`for x in self.items`), "%" for a mapping's values (`for k, v in d.items()`),
    through enumerate() and a dict's keys()/values()/items(); "" where it cannot tell."""
    names = target_names(left)
    parts = list(left.named_children) if left.type in ("pattern_list", "tuple_pattern") else [left]
    if right is None or not names:
        return [(n, "") for n in names]
    if right.type == "call":
        fn, args = right.child_by_field_name("function"), right.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        if fn is not None and fn.type == "identifier" and _t(fn) == "enumerate" and first is not None and len(parts) == 2:
            inner = expr_value(first, func)
            return [(n, ":int") for n in target_names(parts[0])] + [(n, "@" + inner if inner else "") for n in target_names(parts[1])]
        if fn is not None and fn.type == "attribute" and args is not None and not args.named_children:
            obj, attr = fn.child_by_field_name("object"), _t(fn.child_by_field_name("attribute"))
            inner = expr_value(obj, func) if obj is not None else ""
            if inner and attr == "items" and len(parts) == 2:
                return [(n, "@" + inner) for n in target_names(parts[0])] + [(n, "%" + inner) for n in target_names(parts[1])]
            if inner and attr in ("keys", "values") and len(parts) == 1 and left.type == "identifier":
                return [(left, ("@" if attr == "keys" else "%") + inner)]
    inner = expr_value(right, func)
    if left.type == "identifier":
        return [(left, "@" + inner if inner else "")]
    return unpacked(parts, "@" + inner if inner else "")


def rebound(name: str, value: str, before: str) -> str:
    """The encoding of `name = VALUE` when VALUE reads `name` itself (`options = options.update()`,
    `tb = tb.tb_next`): VALUE's steps after the name applied to what the name was `before`,
    "~.update()~:ConsoleOptions"; anything else unchanged."""
    m = re.match(r"=" + re.escape(name) + r"(?![\w])", value)
    if m is None or not before:
        return value
    rest = value[m.end():]
    if not rest:
        return before
    return before + rest if before.startswith("=") else f"~{rest}~{before}"


def unpacked(parts: list[ts.Node], value: str) -> list[tuple[ts.Node, str]]:
    """(name, encoding) for `a, b = VALUE`: "#i" + the value's encoding gives name i the i-th
    field of a tuple type or a NamedTuple / dataclass (`for text, style, _ in segments`)."""
    out = []
    for i, p in enumerate(parts):
        if p.type == "identifier":
            out.append((p, f"#{i}{value}" if value else ""))
        else:
            out += [(n, "") for n in target_names(p)]
    return out


def _descend(node: ts.Node, types: tuple, stop: tuple) -> list[ts.Node]:
    found, stack = [], list(node.named_children)
    while stack:
        n = stack.pop()
        if n.type in types:
            found.append(n)
        elif n.type not in stop:
            stack.extend(n.named_children)
    return found
