"""Best-effort static types for completion receivers, over the graph and the open buffer.

A value is a `Val`: a module, a class, an instance of a class, a function (calling it gives
what its `returns` edge names), or something outside the index known only by its path.
Nothing is guessed: what cannot be followed is `UNKNOWN`, and completion then ranks by
usage statistics alone.
"""
from __future__ import annotations

import builtins
import re
from dataclasses import dataclass

from graphmer.complete import stdlib_members
from graphmer.complete.buffer import Buffer
from graphmer.complete.signatures import split_top
from graphmer.index.graph import Resolver, absolute_import
from graphmer.index.records import CALLABLE_KINDS, CLASS_KINDS

_MAX_DEPTH = 8
_STEP = re.compile(r"([A-Za-z_]\w*)(\(\)|\[\])*")
_WRAPPERS = re.compile(r"^(?:[\w.]*\.)?(?:Optional|Final|ClassVar|Annotated|Type)\[(.*)\]$")
_RETURN = re.compile(r"\)\s*->\s*(.+)$")  # the return annotation at the end of a def signature
_TYPING_MODULES = frozenset({"typing", "typing_extensions", "collections.abc"})
_ELEMENT_OF = "@%"  # value encodings of buffer.py's loop targets: an element, a mapping's value
_MAPPINGS = frozenset({"builtins.dict", "collections.defaultdict", "collections.OrderedDict"})
_TYPING_BUILTINS = {"List": "list", "Dict": "dict", "Set": "set", "FrozenSet": "frozenset", "Tuple": "tuple",
                    "Sequence": "list", "MutableSequence": "list", "Mapping": "dict", "MutableMapping": "dict",
                    "Iterable": "", "Iterator": "", "Generator": "", "Collection": "", "AbstractSet": "set",
                    "Deque": "collections.deque", "DefaultDict": "collections.defaultdict", "Text": "str", "AnyStr": "str"}
# What some common standard-library functions and methods return, as annotations of absolute
# paths (their sources carry no annotations; only classes whose members stdlib_members can read).
_STR_FUNCS = ("os.path.join", "os.path.basename", "os.path.dirname", "os.path.abspath", "os.path.realpath",
              "os.path.normpath", "os.path.expanduser", "os.path.relpath", "os.getcwd", "os.fspath")
STDLIB_RETURNS = {
    "builtins.open": "io.TextIOWrapper", "io.open": "io.TextIOWrapper", "logging.getLogger": "logging.Logger",
    "os.stat": "os.stat_result", "os.lstat": "os.stat_result", "os.fstat": "os.stat_result",
    "subprocess.run": "subprocess.CompletedProcess", "inspect.signature": "inspect.Signature",
    "urllib.parse.urlparse": "urllib.parse.ParseResult", "urllib.parse.urlsplit": "urllib.parse.SplitResult",
    "time.localtime": "time.struct_time", "time.gmtime": "time.struct_time",
    "datetime.datetime.now": "datetime.datetime", "datetime.datetime.utcnow": "datetime.datetime",
    "datetime.datetime.fromtimestamp": "datetime.datetime", "datetime.date.today": "datetime.date",
    **dict.fromkeys(_STR_FUNCS, "builtins.str"),
    "argparse.ArgumentParser.parse_args": "argparse.Namespace",
    "argparse.ArgumentParser.parse_known_args": "typing.Tuple[argparse.Namespace, typing.List[str]]",
    "re.compile": "re.Pattern", "re.finditer": "typing.Iterator[re.Match]", "re.Pattern.finditer": "typing.Iterator[re.Match]",
    **dict.fromkeys(("re.match", "re.search", "re.fullmatch", "re.Pattern.match", "re.Pattern.search",
                     "re.Pattern.fullmatch"), "re.Match"),
}
BUILTIN_CLASSES = frozenset(n for n in dir(builtins) if isinstance(getattr(builtins, n), type))


@dataclass(frozen=True, slots=True)
class Val:
    """kind: "module", "class", "instance", "function", "external" (path only) or "" (unknown)."""

    kind: str
    qual: str = ""
    args: tuple[str, ...] = ()  # type arguments as written (`List[Text]` -> ("Text",)), for element types
    ctx: str | None = None  # the module they are written in (None: the buffer)


UNKNOWN = Val("")


def annotation_parts(text: str) -> tuple[str, tuple[str, ...]]:
    """The class an annotation names (a dotted name to resolve, "" for none) and its type
    arguments as written.

    annotation_parts("t.Optional['Console']") -> ("Console", ()); annotation_parts("List[Text]") -> ("List", ("Text",));
    annotation_parts("Dict[str, List[int]] | None") -> ("Dict", ("str", "List[int]")).
    """
    text = text.strip().strip("'\"")
    for _ in range(4):
        m = _WRAPPERS.match(text)
        if not m:
            break
        text = split_top(m.group(1))[0].strip().strip("'\"") if m.group(1) else ""
    parts = [p.strip().strip("'\"") for p in split_top(text, "|")]
    parts = [p for p in parts if p and p != "None"]
    if not parts:
        return "", ()
    head, _, rest = parts[0].partition("[")
    args = tuple(a.strip().strip("'\"") for a in split_top(rest[:-1])) if rest.endswith("]") else ()
    return (head, args) if re.fullmatch(r"[A-Za-z_][\w.]*", head) else ("", ())


def _steps_of(expr: str) -> list[tuple[str, str]]:
    """A normalized receiver's (name, call/subscript suffix) steps: "a().b[]" -> [("a", "()"), ("b", "[]")]."""
    return [(m.group(1), m.group(0)[len(m.group(1)) :]) for m in _STEP.finditer(expr)]


def stdlib_class(path: str, depth: int = 0) -> bool:
    """Whether a dotted path names a class defined in a standard-library module ("logging.Logger")."""
    if path in stdlib_members.RUNTIME_CLASSES:
        return True
    mod, _, name = path.rpartition(".")
    m = stdlib_members.module_names(mod)[0].get(name) if mod and stdlib_members.is_stdlib(mod) else None
    if m is not None and m.target and m.target != path and depth < 4:  # io.TextIOWrapper: from _io import ...
        return stdlib_class(m.target, depth + 1)
    return m is not None and m.kind == "class"


class Typer:
    """Evaluates receiver expressions in the buffer or in an indexed module."""

    def __init__(self, resolver: Resolver, module_file: dict[str, int], attrs: dict[str, dict[str, str]],
                 returns: dict[str, str], symbols: dict[str, tuple[int, str, str]] | None = None) -> None:
        self.r = resolver
        self.module_file = module_file  # module qualname -> resolver file number
        self.attrs = attrs  # owner qualname -> attribute name -> value encoding
        self.returns = returns  # function qualname -> qualname of its annotated return type
        self.symbols = symbols or {}  # qualname -> (id, kind, signature): return annotations as written
        self.buf: Buffer | None = None
        self.module = ""
        self.is_package = False
        self._mro_open: set[str] = set()  # buffer classes whose bases are being evaluated (a cycle stops there)

    def use_buffer(self, buf: Buffer, module: str, is_package: bool) -> None:
        """Evaluate names against this buffer (the current file) from now on."""
        self.buf, self.module, self.is_package = buf, module, is_package

    # -- values of qualnames -----------------------------------------------------------
    def of_qual(self, q: str | None, depth: int = 0) -> Val:
        """What a resolved qualname (or external path) is."""
        if not q:
            return UNKNOWN
        if self.buf is not None and q.startswith(self.module + ".") and q[len(self.module) + 1 :] in self.buf.classes():
            return Val("class", q)
        kind = self.r.kind.get(q)
        if kind == "module":
            return Val("module", q)
        if kind in CLASS_KINDS:
            return Val("class", q)
        if kind in CALLABLE_KINDS:
            return Val("function", q)
        if q.startswith("builtins.") and q[9:] in BUILTIN_CLASSES:
            return Val("class", q)
        owner, _, name = q.rpartition(".")
        if owner in self.attrs and name in self.attrs[owner]:
            return self.of_value(self.attrs[owner][name], owner_module=self._module_of(owner), depth=depth + 1)
        return Val("external", q) if kind is None and owner not in self.r.kind else UNKNOWN

    def _module_of(self, qual: str) -> str:
        while qual and self.r.kind.get(qual) != "module":
            qual = qual.rpartition(".")[0]
        return qual

    def of_value(self, enc: str, owner_module: str | None = None, depth: int = 0) -> Val:
        """Evaluate a value encoding (":T", "=a.b", "=a.b()") in the buffer (owner_module
        None) or in an indexed module."""
        if not enc or depth > _MAX_DEPTH:
            return UNKNOWN
        if enc[0] == ":":
            return self.of_annotation(enc[1:], owner_module, depth)
        if enc[0] in _ELEMENT_OF:  # an element of an iterable (`for x in ...`): see buffer.py
            return self.element(self.of_value(enc[1:], owner_module, depth + 1), enc[0], depth)
        if enc[0] == "~":  # steps applied to an earlier value (`x = x.f()`): see buffer.rebound
            rest, _, before = enc[1:].partition("~")
            return self.follow(self.of_value(before, owner_module, depth + 1), rest, depth + 1)
        if enc[0] == "#":  # field i of a tuple (`a, b = ...`): see buffer.unpacked
            m = re.match(r"#(\d+)", enc)
            return self.field(self.of_value(enc[m.end():], owner_module, depth + 1), int(m.group(1)), depth) if m else UNKNOWN
        return self.eval(enc[1:], owner_module, depth + 1)

    def of_annotation(self, text: str, owner_module: str | None, depth: int) -> Val:
        """The instance an annotation describes, keeping its type arguments."""
        target, args = annotation_parts(text)
        if not target:
            return UNKNOWN
        v = self.eval(target, owner_module, depth + 1)
        last = target.rsplit(".", 1)[-1]
        typing_name = v.kind == "external" and v.qual.rpartition(".")[0] in _TYPING_MODULES
        if (typing_name or not v.kind) and last in _TYPING_BUILTINS:
            # typing.List[...] is a list; an Iterable[...] is no class we know but has elements
            builtin = _TYPING_BUILTINS[last]
            if not builtin:
                return Val("", "", args, owner_module)
            return Val("instance", builtin if "." in builtin else "builtins." + builtin, args, owner_module)
        if v.kind == "class" or (v.kind == "external" and stdlib_class(v.qual)):
            return Val("instance", v.qual, args, owner_module)
        return UNKNOWN

    def element(self, v: Val, which: str, depth: int) -> Val:
        """What iterating `v` gives (which "@"), its mapping's values ("%"), or an item ("[]"):
        from its type arguments (List[T], Dict[K, V]), else from its class's `__iter__` /
        `__getitem__` return annotation."""
        if (v.kind == "instance" and v.qual == "builtins.str") or depth > _MAX_DEPTH:
            return v if depth <= _MAX_DEPTH else UNKNOWN
        if which == "[]":
            which = "%" if v.qual in _MAPPINGS else "@"
            if not v.args and v.kind == "instance":
                get = self.member(v, "__getitem__", depth + 1)
                return self.returned(get.qual, depth + 1) if get.kind == "function" else UNKNOWN
        if not v.args:
            if v.kind == "instance" and which == "@" and not v.qual.startswith("builtins."):
                it = self.member(v, "__iter__", depth + 1)
                if it.kind == "function":
                    return self.element(self.returned(it.qual, depth + 1), "@", depth + 1)
            return UNKNOWN
        pick = v.args[1] if which == "%" and len(v.args) > 1 else v.args[0]
        if pick == "...":
            return UNKNOWN
        return self.of_annotation(pick, v.ctx, depth + 1)

    def field(self, v: Val, i: int, depth: int) -> Val:
        """Field i of a value unpacked into names: of a Tuple[...] type's arguments, or the i-th
        annotated class-body name of a NamedTuple / dataclass."""
        if depth > _MAX_DEPTH:
            return UNKNOWN
        if v.qual == "builtins.tuple" and v.args:
            arg = v.args[i] if i < len(v.args) else ""
            return self.of_annotation(arg, v.ctx, depth + 1) if arg and arg != "..." else UNKNOWN
        if v.kind != "instance" or v.qual.startswith("builtins."):
            return UNKNOWN
        node = self.buffer_class(v.qual)
        if node is not None:
            fields, ctx = [a for a in self.buf.class_attributes(node).values() if a.startswith(":")], None
        else:
            fields, ctx = [a for a in self.attrs.get(v.qual, {}).values() if a.startswith(":")], self._module_of(v.qual)
        return self.of_value(fields[i], ctx, depth + 1) if i < len(fields) else UNKNOWN

    # -- expressions -------------------------------------------------------------------
    def eval(self, expr: str, owner_module: str | None = None, depth: int = 0) -> Val:
        """Value of a normalized receiver expression ("self.console", "get()", "os.path")."""
        steps = _steps_of(expr)
        if not steps or depth > _MAX_DEPTH:
            return UNKNOWN
        name, suffix = steps[0]
        v = self.head(name, owner_module, depth)
        return self._steps(self.apply(v, suffix, depth), steps[1:], depth)

    def follow(self, v: Val, rest: str, depth: int) -> Val:
        """`v` after a normalized receiver's tail: follow(v, "().a.b()") is what v().a.b() gives."""
        if depth > _MAX_DEPTH:
            return UNKNOWN
        calls = re.match(r"(?:\(\)|\[\])*", rest).group()
        return self._steps(self.apply(v, calls, depth), _steps_of(rest[len(calls):]), depth)

    def _steps(self, v: Val, steps: list[tuple[str, str]], depth: int) -> Val:
        for name, suffix in steps:
            owner, v = v, self.member(v, name, depth)
            if not suffix and owner.kind == "instance" and v.kind == "function":
                v = self.returned(v.qual, depth)  # a method read without a call is mostly a property
            else:
                v = self.apply(v, suffix, depth)
        return v

    def head(self, name: str, owner_module: str | None, depth: int) -> Val:
        """Value of a bare name: buffer scopes (or the indexed module's), then builtins."""
        if owner_module == "":  # absolute dotted paths (STDLIB_RETURNS)
            return self.of_qual(name, depth)
        if owner_module is not None:
            fi = self.module_file.get(owner_module)
            q = self.r.resolve(fi, 0, name) if fi is not None else None
            return self.of_qual(q, depth) if q else UNKNOWN
        buf = self.buf
        if buf.comprehension_names.get(name):
            return self.of_value(buf.comprehension_names[name], None, depth + 1)
        for i, scope in enumerate(buf.chain):
            if scope.type == "class_definition" and i > 0:
                continue  # class bodies are not enclosing scopes of their methods
            if name in ("self", "cls") and scope.type == "function_definition":
                cls = self.enclosing_class(i)
                if cls:
                    return Val("instance" if name == "self" else "class", cls)
            if name == "super" and scope.type == "function_definition" and self.enclosing_class(i):
                # super() in a method: the instance seen from the first base on (eval applies the "()")
                bases = self.mro(self.enclosing_class(i))[1:]
                return Val("class", bases[0]) if bases else UNKNOWN
            names = buf.scope_names(scope)
            if name in names:
                return self.binding(name, names[name], scope, depth)
        names = buf.scope_names(buf.root)
        if name in names:
            return self.binding(name, names[name], buf.root, depth)
        if name in BUILTIN_CLASSES:
            return Val("class", "builtins." + name)
        if "builtins." + name in STDLIB_RETURNS:
            return Val("external", "builtins." + name)
        return UNKNOWN

    def enclosing_class(self, func_index: int) -> str:
        """Qualname of the class whose method is buf.chain[func_index], or ""."""
        chain = self.buf.chain
        if func_index + 1 < len(chain) and chain[func_index + 1].type == "class_definition":
            return f"{self.module}.{self.buf.qualname_below_module(chain[func_index + 1])}"
        return ""

    def binding(self, name: str, binding: tuple[str, str], scope, depth: int) -> Val:
        """Value of a name a buffer scope binds (Buffer.scope_names gives `binding`)."""
        kind, value = binding
        if kind == "import":
            target = absolute_import(value, self.module, self.is_package)
            return self.of_qual(self.r.canonical(target) or target, depth) if target else UNKNOWN
        if kind in ("class", "function"):
            below = self.buf.qualname_below_module(scope) if scope.type != "module" else ""
            return self.of_qual(f"{self.module}.{below + '.' if below else ''}{name}", depth)
        return self.of_value(value, None, depth + 1)

    def apply(self, v: Val, suffix: str, depth: int) -> Val:
        """The value after calls/subscripts: Class() is an instance, f() what f returns."""
        for op in re.findall(r"\(\)|\[\]", suffix):
            if op == "[]":  # an item: a list's element, a dict's value
                v = self.element(v, "[]", depth)
                continue
            if v.kind == "class" or (v.kind == "external" and stdlib_class(v.qual)):
                v = Val("instance", v.qual)
            elif v.kind == "function":
                v = self.returned(v.qual, depth)
            elif v.kind == "external" and v.qual in STDLIB_RETURNS:
                v = self.of_annotation(STDLIB_RETURNS[v.qual], "", depth + 1)
            else:
                return UNKNOWN
        return v

    def returned(self, func: str, depth: int) -> Val:
        """What calling an indexed function gives: its return annotation evaluated in its module
        (`-> Optional[Token]` is a Token, `-> List[str]` a list), else its `returns` edge."""
        m = _RETURN.search(self.symbols.get(func, (0, "", ""))[2])
        if m and depth <= _MAX_DEPTH:
            v = self.of_value(":" + m.group(1), self._module_of(func), depth + 1)
            if v.kind or v.args:
                return v
        ret = self.returns.get(func)
        v = self.of_qual(ret, depth) if ret else UNKNOWN
        return Val("instance", v.qual) if v.kind == "class" else UNKNOWN

    def member(self, v: Val, name: str, depth: int) -> Val:
        """Value of `v.name`."""
        if v.kind == "module":
            q = f"{v.qual}.{name}"
            c = self.r.canonical(q)
            return self.of_qual(c, depth) if c else self.of_qual(q, depth)
        if v.kind in ("class", "instance"):
            for cls in self.mro(v.qual):
                if self.buf is not None and self.buffer_class(cls) is not None:
                    node = self.buffer_class(cls)
                    if name in self.buf.scope_names(node):
                        b = self.buf.scope_names(node)[name]
                        if b[0] in ("function", "class"):
                            return self.of_qual(f"{cls}.{name}", depth)
                        return self.of_value(b[1], None, depth + 1)
                    attrs = self.buf.class_attributes(node)
                    if name in attrs:
                        return self.of_value(attrs[name], None, depth + 1)
                    continue
                m = self.r.members.get(cls, {}).get(name)
                if m is not None:
                    return self.of_qual(m, depth)
                if name in self.attrs.get(cls, {}):
                    return self.of_value(self.attrs[cls][name], self._module_of(cls), depth + 1)
            # a standard-library class's method whose return STDLIB_RETURNS knows (re.Pattern.match)
            return Val("external", f"{v.qual}.{name}") if f"{v.qual}.{name}" in STDLIB_RETURNS else UNKNOWN
        if v.kind == "external":
            return Val("external", f"{v.qual}.{name}")
        return UNKNOWN

    def buffer_class(self, cls: str):
        """The buffer's class node for a class qualname of the buffer's module, or None."""
        if self.buf is None or not cls.startswith(self.module + "."):
            return None
        return self.buf.classes().get(cls[len(self.module) + 1 :])

    def mro(self, cls: str, depth: int = 0) -> list[str]:
        """The class and its bases, depth first; buffer classes use the buffer's bases."""
        node = self.buffer_class(cls)
        if node is None:
            return self.r.mro(cls) if cls in self.r.kind else [cls]
        out = [cls]
        if depth > _MAX_DEPTH or cls in self._mro_open:
            # A base read through a name the cursor's scope rebinds can lead back here
            # (`cmd, arg = self.parse()` in a method of `class Pdb(cmd.Cmd)`).
            return out
        self._mro_open.add(cls)
        try:
            for base in self.buf.class_bases(node):
                b = self.eval(base, None, depth + 1)
                for c in self.mro(b.qual, depth + 1) if b.kind == "class" else ([b.qual] if b.qual else []):
                    if c not in out:
                        out.append(c)
        finally:
            self._mro_open.discard(cls)
        return out
