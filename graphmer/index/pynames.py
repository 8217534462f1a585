"""Python names that completion needs beyond definitions: attribute uses and assigned names.

Both the indexer (per stored file) and the completer (per open buffer) call these, so the
usage counts of a buffer and of its indexed file are computed the same way and can be
swapped for each other (the buffer overrides the indexed file).
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable

import tree_sitter as ts

from graphmer.index import languages
from graphmer.index.records import Attribute, AttrUse, SelfUse

_WS = re.compile(r"\s+")
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
# Literal node types -> the builtin type their value has.
_LITERALS = {
    "string": "str",
    "concatenated_string": "str",
    "integer": "int",
    "float": "float",
    "true": "bool",
    "false": "bool",
    "list": "list",
    "list_comprehension": "list",
    "dictionary": "dict",
    "dictionary_comprehension": "dict",
    "set": "set",
    "set_comprehension": "set",
    "tuple": "tuple",
}
_CONTEXT = re.compile(
    r"\b(return|yield|await|not|if|elif|while|in|and|or|is|raise|assert|for|with|lambda|else|del)\s*$"
    r"|(->|==|!=|<=|>=|\*\*|[-+*/%@=:(\[,{<>|&~])\s*$"
)
_SCOPE_STOPS = frozenset({"function_definition", "class_definition", "module", "lambda"})


@functools.cache
def _attr_query() -> ts.Query:
    return ts.Query(languages.ts_language("python"), "(attribute object: (_) @obj attribute: (identifier) @attr)")


@functools.cache
def _assign_query() -> ts.Query:
    return ts.Query(languages.ts_language("python"), "(assignment left: (_) @left) @assign")


@functools.cache
def _add_argument_query() -> ts.Query:
    return ts.Query(languages.ts_language("python"),
                    '(call function: (attribute attribute: (identifier) @m) arguments: (argument_list) @args (#eq? @m "add_argument"))')


def _plain_string(node: ts.Node) -> str | None:
    """The value of a string literal without prefixes other than r/u, escapes or
    interpolation ("--dry-run"), else None."""
    if node.type != "string" or any(c.type in ("interpolation", "escape_sequence") for c in node.named_children):
        return None
    text = _text(node)
    quote = text.lstrip("rRuU")
    if len(text) - len(quote) > 1 or not quote or quote[0] not in "'\"":
        return None
    q = quote[:3] if quote[:3] in ('"""', "'''") else quote[0]
    return quote[len(q):-len(q)] if len(quote) >= 2 * len(q) else None


def argparse_dests(root: ts.Node) -> list[str]:
    """The attribute names `x.add_argument(...)` calls under root give an argparse namespace,
    in order, as argparse derives them: `dest=`, else the first long option ("--dry-run" ->
    dry_run), else the first short one ("-v" -> v), else the positional name."""
    out: list[str] = []
    for _, caps in ts.QueryCursor(_add_argument_query()).matches(root):
        flags, dest = [], None
        for a in caps["args"][0].named_children:
            if a.type == "keyword_argument":
                key, value = a.child_by_field_name("name"), a.child_by_field_name("value")
                if key is not None and value is not None and _text(key) == "dest":
                    dest = _plain_string(value)
            elif (v := _plain_string(a)) is not None:
                flags.append(v)
        if dest is None and flags:
            long = [f for f in flags if f.startswith("--")]
            dest = (long or flags)[0].lstrip("-")
            dest = dest.replace("-", "_") if flags[0].startswith("-") else dest
        if dest and dest.isidentifier() and dest not in out:
            out.append(dest)
    return out


def norm_receiver(text: str) -> str:
    """A receiver expression as a usage key: whitespace gone, call and subscript arguments
    dropped, anything else that is not a dotted name "".

    norm_receiver("self.get(a, b) .x") -> "self.get().x"; norm_receiver("'a'") -> "".
    """
    if _DOTTED.fullmatch(text):
        return text  # the common case, a plain dotted name
    out: list[str] = []
    depth = 0
    for ch in _WS.sub("", text):
        if ch in "([":
            if depth == 0:
                out.append(ch)
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                return ""
            if depth == 0:
                out.append(ch)
        elif depth == 0:
            out.append(ch)
    key = "".join(out)
    if depth or not key or not _DOTTED.fullmatch(key.replace("()", "").replace("[]", "")):
        return ""
    return key


def _text(node: ts.Node) -> str:
    return node.text.decode("utf-8", "replace")


def context_token(before: str) -> str:
    """The token before a receiver, from the line text before it: a keyword or operator that
    says what the expression is for, "^" at the start of a line, "?" for anything else.

    context_token("    return ") -> "return"; context_token("def f(x: ") -> ":"; context_token("  ") -> "^".
    """
    if not before.strip():
        return "^"
    m = _CONTEXT.search(before)
    return (m.group(1) or m.group(2)) if m else "?"


def attr_use_sites(root: ts.Node, skip: str = "") -> list[tuple[str, str, int, str]]:
    """(receiver key, attribute name, 0-based row, context token) of every `x.name` under
    root; an attribute spelled `skip` (completion's cursor placeholder) is left out."""
    out = []
    lines: list[bytes] | None = None
    for _, caps in ts.QueryCursor(_attr_query()).matches(root):
        attr = caps["attr"][0]
        name = _text(attr)
        if name != skip:
            obj = caps["obj"][0]
            while obj.type == "attribute":  # the context of `a.b.c` is what stands before `a`
                obj = obj.child_by_field_name("object")
            if lines is None:
                lines = root.text.split(b"\n")
            row, col = obj.start_point
            before = lines[row][:col].decode("utf-8", "replace") if row < len(lines) else ""
            out.append((norm_receiver(_text(caps["obj"][0])), name, attr.start_point.row, context_token(before)))
    return out


def attr_use_counts(root: ts.Node, skip: str = "") -> Counter:
    """Counter of (receiver key, attribute name) over every `x.name` under root (see attr_use_sites)."""
    return Counter((r, n) for r, n, _, _ in attr_use_sites(root, skip))


def attr_uses(root: ts.Node) -> list[AttrUse]:
    """Counts of (receiver, name, context token) as records, sorted for a stable store."""
    counts = Counter((r, n, x) for r, n, _, x in attr_use_sites(root))
    return [AttrUse(r, n, c, x) for (r, n, x), c in sorted(counts.items())]


def self_sites(root: ts.Node, skip: str = "") -> list[tuple[ts.Node, str]]:
    """(class node, attribute name) of every `self.name` / `cls.name` inside a method (closures
    in it included), the class being the one that defines the method; an attribute spelled
    `skip` (completion's cursor placeholder) is left out."""
    out = []
    for _, caps in ts.QueryCursor(_attr_query()).matches(root):
        obj, attr = caps["obj"][0], caps["attr"][0]
        if obj.type != "identifier" or _text(obj) not in ("self", "cls"):
            continue
        name = _text(attr)
        if name == skip:
            continue
        n, func = obj.parent, None
        while n is not None and n.type != "class_definition":
            if n.type == "function_definition":
                func = n
            n = n.parent
        # The class must hold the outermost function directly (its body, maybe decorated).
        if n is not None and func is not None and _class_of_def(func) == n:
            out.append((n, name))
    return out


def _class_of_def(func: ts.Node) -> ts.Node | None:
    p = func.parent
    if p is not None and p.type == "decorated_definition":
        p = p.parent
    p = p.parent if p is not None and p.type == "block" else None
    return p if p is not None and p.type == "class_definition" else None


def self_uses(root: ts.Node, symbol_of_class: Callable[[ts.Node], int]) -> list[SelfUse]:
    """`self.name` / `cls.name` counts per owning class (see self_sites), as records."""
    counts: Counter = Counter()
    for cls, name in self_sites(root):
        owner = symbol_of_class(cls)
        if owner > 0:
            counts[(owner, name)] += 1
    return [SelfUse(o, n, k) for (o, n), k in sorted(counts.items())]


def param_annotation(func: ts.Node | None, name: str) -> str:
    """The annotation text of parameter `name` of a function node, or ""."""
    params = func.child_by_field_name("parameters") if func is not None else None
    for p in params.named_children if params is not None else ():
        if p.type in ("typed_parameter", "typed_default_parameter"):
            pname = p.child_by_field_name("name") or (p.named_children[0] if p.named_children else None)
            typ = p.child_by_field_name("type")
            if pname is not None and typ is not None and _text(pname) == name:
                return _WS.sub("", _text(typ))
    return ""


def value_of(assign: ts.Node, func: ts.Node | None) -> str:
    """What an assignment binds, as Attribute.value encodes it (":T", "=a.b", "=a.b()", "")."""
    typ = assign.child_by_field_name("type")
    if typ is not None:
        return ":" + _WS.sub("", _text(typ))
    right = assign.child_by_field_name("right")
    return expr_value(right, func) if right is not None else ""


def expr_value(right: ts.Node, func: ts.Node | None) -> str:
    """An expression's value in Attribute.value's encoding ("=a.b()", "=a.b", ":str", "")."""
    if right.type in _LITERALS:
        return ":" + _LITERALS[right.type]
    if right.type in ("parenthesized_expression", "await") and right.named_children:
        return expr_value(right.named_children[0], func)  # `await f()`: an async f's annotation is what it gives
    if right.type == "boolean_operator" and right.child_by_field_name("operator") is not None \
            and right.child_by_field_name("operator").type == "or":
        # `console or get_console()`: the first operand's value, else the second's
        sides = [right.child_by_field_name("left"), right.child_by_field_name("right")]
        return next((v for v in (expr_value(x, func) for x in sides if x is not None) if v), "")
    if right.type == "conditional_expression" and right.named_children:
        return next((v for v in (expr_value(right.named_children[i], func) for i in (0, 2) if i < len(right.named_children)) if v), "")
    if right.type == "call":
        fn = right.child_by_field_name("function")
        key = norm_receiver(_text(fn)) if fn is not None else ""
        return "=" + key + "()" if key else ""
    if right.type == "subscript" and any(c.type == "slice" for c in right.children_by_field_name("subscript")):
        right = right.child_by_field_name("value")  # a slice: the container's own type
        return expr_value(right, func) if right is not None else ""
    if right.type == "subscript":  # an item: typed by the container's type arguments (List[T] -> T)
        key = norm_receiver(_text(right))
        return "=" + key if key else ""
    if right.type in ("identifier", "attribute"):
        key = norm_receiver(_text(right))
        if right.type == "identifier":
            ann = param_annotation(func, key)
            if ann:
                return ":" + ann
        return "=" + key if key else ""
    return ""


def target_names(left: ts.Node) -> list[ts.Node]:
    """Identifier nodes an assignment target binds: `a, (b, c) = ...` -> [a, b, c]."""
    if left.type == "identifier":
        return [left]
    if left.type in ("pattern_list", "tuple_pattern", "list_pattern"):
        return [n for c in left.named_children for n in target_names(c)]
    return []


def attribute_defs(root: ts.Node, symbol_of_class: Callable[[ts.Node], int]) -> list[Attribute]:
    """Names assigned on classes (body assignments, `self.x =` / `cls.x =` in their methods)
    and at module level. `symbol_of_class(class_node)` gives the class's symbol index."""
    out: list[Attribute] = []
    seen: set[tuple[int, str]] = set()
    for _, caps in ts.QueryCursor(_assign_query()).matches(root):
        assign, left = caps["assign"][0], caps["left"][0]
        func, n = None, assign.parent
        while n is not None and n.type not in ("class_definition", "module"):
            if n.type == "lambda":
                break
            if n.type == "function_definition":
                if func is not None:
                    break  # a nested function: its self is not the class's
                func = n
            n = n.parent
        if n is None or n.type == "lambda" or (n.type == "function_definition"):
            continue
        owner = symbol_of_class(n) if n.type == "class_definition" else 0
        if owner < 0:
            continue
        if func is None:
            names = [_text(t) for t in target_names(left)]
        elif n.type == "class_definition" and left.type == "attribute" and _is_self(left):
            names = [_text(left.child_by_field_name("attribute"))]
        elif n.type == "class_definition" and left.type in ("pattern_list", "tuple_pattern", "list_pattern"):
            # `self.top_left, _, self.top = line` (parenthesized or not)
            names = [_text(t.child_by_field_name("attribute")) for t in _unpacked_targets(left)
                     if t.type == "attribute" and _is_self(t)]
        else:
            continue
        value = value_of(assign, func) if len(names) == 1 else ""
        for name in names:
            if (owner, name) not in seen:
                seen.add((owner, name))
                out.append(Attribute(owner, name, assign.start_point.row + 1, value))
    return out


def _unpacked_targets(left: ts.Node) -> list[ts.Node]:
    """The targets of an unpacking assignment, nested patterns flattened."""
    out = []
    for c in left.named_children:
        out += _unpacked_targets(c) if c.type in ("pattern_list", "tuple_pattern", "list_pattern") else [c]
    return out


def _is_self(attr: ts.Node) -> bool:
    obj = attr.child_by_field_name("object")
    return obj is not None and obj.type == "identifier" and _text(obj) in ("self", "cls")
