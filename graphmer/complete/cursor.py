"""Stage 1, the cursor: what is typed at the cursor (the prefix, the receiver before a dot, a
literal receiver's builtin type) and what the line before the receiver says about the
expression (the name it is assigned or passed to, the call it is an argument of).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # LSP's line breaks (str.splitlines knows more)
_IDENT_TAIL = re.compile(r"[^\W\d]\w*$|$")
_OPEN = {")": "(", "]": "[", "}": "{"}
_CLOSE = {v: k for k, v in _OPEN.items()}


@dataclass(frozen=True, slots=True)
class CursorText:
    """What is typed at the cursor: `prefix`, and the receiver before a dot (None: no dot)."""

    prefix: str
    receiver: str | None
    literal: str = ""  # the builtin type of a literal receiver ("str" for `", ".`), else ""


def split_lines(source: str) -> list[str]:
    """The buffer's lines as LSP counts them."""
    return _LINE_BREAK.split(source)


def cursor_text(before: str) -> CursorText:
    """Prefix and receiver from the line text before the cursor.

    cursor_text("x = self.con") -> CursorText("con", "self"); cursor_text("  pri") -> ("pri", None).
    """
    prefix = _IDENT_TAIL.search(before).group(0)
    pos = len(before) - len(prefix)
    if pos == 0 or before[pos - 1] != ".":
        return CursorText(prefix, None)
    end = pos - 1
    i = end
    while i > 0:
        ch = before[i - 1]
        if ch.isidentifier() or ch.isdigit():
            i -= 1
        elif ch in _OPEN:
            i = _match_back(before, i - 1)
            if i < 0:
                return CursorText(prefix, "")
        elif ch in "'\"" and i == end:
            return CursorText(prefix, "", "str")
        elif ch == "." and i < end and before[i - 2 : i - 1] not in ("", "."):
            i -= 1
        else:
            break
    text = before[i:end]
    if not text or text[0].isdigit():
        return CursorText(prefix, "" if text else None)
    if text[-1] in ")]" and text[0] in "([{":
        return CursorText(prefix, "", {"(": "", "[": "list", "{": "dict"}[text[0]])
    return CursorText(prefix, text)


def _match_back(text: str, close: int) -> int:
    """Index of the bracket opening the one at `close`, or -1."""
    depth = 0
    for j in range(close, -1, -1):
        ch = text[j]
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    return -1


def closers(text: str) -> str:
    """Brackets that close what `text` leaves open: closers("f(a[1") -> "])"."""
    stack: list[str] = []
    for ch in text:
        if ch in _CLOSE:
            stack.append(_CLOSE[ch])
        elif ch in _OPEN and stack and stack[-1] == ch:
            stack.pop()
    return "".join(reversed(stack))


_ASSIGNED = re.compile(r"([^\W\d]\w*)\s*(?::[^=]*)?(?<![=!<>])=\s*$")


def assigned_name(before: str) -> str:
    """The name an expression starting after `before` is assigned or passed to, or "".

    assigned_name("    env = ") -> "env"; assigned_name("f(a, key=") -> "key"; assigned_name("x == ") -> "".
    """
    m = _ASSIGNED.search(before)
    return m.group(1) if m else ""


_CALLEE = re.compile(r"([^\W\d][\w.]*)\s*$")


def call_slot(before: str) -> tuple[str, int]:
    """The call an expression starting after `before` is a positional argument of, as (callee
    text, 0-based argument index), or ("", -1): call_slot("x = f(a, ") -> ("f", 1);
    call_slot("g(key=") -> ("", -1) (a keyword argument: assigned_name has it)."""
    depth, commas = 0, 0
    for i in range(len(before) - 1, -1, -1):
        ch = before[i]
        if ch in ")]}":
            depth += 1
        elif ch in "([{":
            if depth == 0:
                if ch != "(" or assigned_name(before):
                    return "", -1
                m = _CALLEE.search(before[:i])
                return (m.group(1), commas) if m else ("", -1)
            depth -= 1
        elif ch == "," and depth == 0:
            commas += 1
    return "", -1


def before_receiver(text: str, column: int, ct: CursorText) -> str:
    """The cursor line's text before the receiver (ct.receiver must not be None):
    before_receiver("x = self.con", 12, cursor_text("x = self.con")) -> "x = "."""
    return text[: max(column, 0) - len(ct.prefix) - 1 - len(ct.receiver)]
