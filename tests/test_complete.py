"""Completion engine: candidates from the graph, ranking by usage, buffer overriding the index."""
from __future__ import annotations

import math
import textwrap

import pytest

from graphmer.complete.cursor import CursorText, cursor_text
from graphmer.complete.pipeline import Completer, SymbolInfo
from graphmer.complete.rank import CompletionItem, RankWeights
from graphmer.index.indexer import IndexConfig, build_index
from graphmer.index.store import INDEX_DIRNAME, Store
from tests.conftest import as_older_index

# Tests of one ranking signal use the hand-set weights: known, stable, each signal visible.
# The fitted weights are tested in tests/test_complete_fit.py and measured by the bench.
HAND = RankWeights()

FILES = {
    "pkg/__init__.py": "",
    "pkg/base.py": '''
        class Base:
            """A base."""

            def save(self, path: str) -> None:
                """Write it to path."""

            def _hidden(self):
                pass
        ''',
    "pkg/util.py": '''
        LIMIT = 10

        def helper(x):
            """Help with x."""
            return x

        def render(x):
            return x
        ''',
    "pkg/shapes.py": '''
        from pkg.base import Base
        from pkg import util
        import pkg.util as u


        class Shape(Base):
            def __init__(self, size: int):
                self.size = size
                self.color = "red"

            def area(self):
                return self.size * self.size

            def draw(self):
                self.save("x")
                self.save("y")
                u.helper(1)
                u.helper(2)
                u.render(3)
                return self.area()
        ''',
    "pkg/use.py": '''
        from pkg.shapes import Shape


        def main(n):
            s = Shape(n)
            s.area()
            s.area()
            s.draw()
            return s
        ''',
}


@pytest.fixture(scope="module")
def completer(tmp_path_factory):
    root = tmp_path_factory.mktemp("proj")
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip("\n"))
    build_index(root, IndexConfig(jobs=1))
    store = Store(root / INDEX_DIRNAME)
    yield Completer(store, weights=HAND)
    store.close()


def source_with(rel: str, line_no: int, text: str) -> tuple[str, int, int]:
    """The fixture file with line `line_no` (0-based) replaced by text; cursor at its end."""
    lines = textwrap.dedent(FILES[rel]).lstrip("\n").split("\n")
    lines[line_no] = text
    return "\n".join(lines), line_no, len(text)


def labels(c) -> list[str]:
    return [i.label for i in c.items]


def complete_last_dot(root, rel: str, src: str):
    """Completions (hand-set weights) at the end of the last line of src that ends in "."."""
    lines = src.split("\n")
    row = max(i for i, line in enumerate(lines) if line.rstrip().endswith("."))
    store = Store(root / INDEX_DIRNAME)
    try:
        return Completer(store, weights=HAND).complete(rel, src, row, len(lines[row]))
    finally:
        store.close()


@pytest.mark.parametrize(
    "before, expected",
    [
        ("x = self.con", CursorText("con", "self")),
        ("    pri", CursorText("pri", None)),
        ("foo(os.path.", CursorText("", "os.path")),
        ("a = get(1, 2).x", CursorText("x", "get(1, 2)")),
        ('", ".', CursorText("", "", "str")),
        ("x = 1.", CursorText("", "")),
    ],
)
def test_cursor_text(before, expected):
    assert cursor_text(before) == expected


def test_self_members_include_inherited_ranked_by_use(completer):
    src, line, col = source_with("pkg/shapes.py", 16, "        self.")
    c = completer.complete("pkg/shapes.py", src, line, col)
    assert (c.receiver, c.receiver_type, c.prefix) == ("self", "pkg.shapes.Shape", "")
    # Members first, by uses on self in this buffer (size 3, save 2, area and color 1) and at a
    # line start as the cursor is (save 2, size and color 1: `return self.size`, `return self.area()` are not).
    assert labels(c)[:7] == ["save", "size", "color", "area", "draw", "__init__", "_hidden"]
    kinds = {i.label: i.kind for i in c.items}
    assert kinds["save"] == "method" and kinds["size"] == "attribute"
    assert [i.score for i in c.items] == sorted((i.score for i in c.items), reverse=True)
    assert not c.truncated
    cut = completer.complete("pkg/shapes.py", src, line, col, limit=2)
    assert labels(cut) == labels(c)[:2] and cut.truncated  # the server sends isIncomplete then


def test_prefix_filters(completer):
    src, line, col = source_with("pkg/shapes.py", 16, "        self.s")
    c = completer.complete("pkg/shapes.py", src, line, col)
    assert c.prefix == "s"
    assert labels(c)[:2] == ["save", "size"]  # as above: save leads at a line start
    assert all(x.startswith("s") for x in labels(c))


def test_module_members_behind_alias_and_from_import(completer):
    src, line, col = source_with("pkg/shapes.py", 16, "        u.")
    c = completer.complete("pkg/shapes.py", src, line, col)
    assert c.receiver_type == "pkg.util"
    # helper used twice after `u.` in this buffer, render once, LIMIT never
    assert labels(c) == ["helper", "render", "LIMIT"]
    src, line, col = source_with("pkg/shapes.py", 16, "        util.")
    c = completer.complete("pkg/shapes.py", src, line, col)
    assert c.receiver_type == "pkg.util"
    assert set(labels(c)) == {"helper", "render", "LIMIT"}
    helper = next(i for i in c.items if i.label == "helper")
    assert helper.kind == "function" and helper.symbol_id > 0


def test_local_variable_type_from_constructor(completer):
    src, line, col = source_with("pkg/use.py", 6, "    s.")
    c = completer.complete("pkg/use.py", src, line, col)
    assert c.receiver_type == "pkg.shapes.Shape"
    assert labels(c)[:2] == ["area", "draw"]  # s.area() stays once in the buffer, s.draw() once after it
    assert {"save", "size", "color", "_hidden"} <= set(labels(c))


def test_names_in_scope(completer):
    src, line, col = source_with("pkg/use.py", 6, "    ")
    c = completer.complete("pkg/use.py", src, line, col, limit=500)
    assert c.receiver == "" and c.receiver_type == ""
    top = labels(c)[:4]
    assert top == ["s", "n", "Shape", "main"]  # locals, then module names, then builtins
    assert {i.label: i.kind for i in c.items}["Shape"] == "class"
    assert "print" in labels(c) and "len" in labels(c)
    src, line, col = source_with("pkg/use.py", 6, "    Sh")
    assert labels(completer.complete("pkg/use.py", src, line, col)) == ["Shape"]


def test_unsaved_buffer_overrides_index(completer):
    text = textwrap.dedent(FILES["pkg/shapes.py"]).lstrip("\n")
    text = text.replace("    def area(self):", "    def perimeter(self):\n        return 4\n\n    def area(self):")
    lines = text.split("\n")
    at = lines.index("        return self.area()")
    lines[at] = "        return self.per"
    c = completer.complete("pkg/shapes.py", "\n".join(lines), at, len(lines[at]))
    assert labels(c) == ["perimeter"]
    assert c.items[0].kind == "method" and c.items[0].symbol_id == 0  # not in the index


def test_broken_buffer_still_completes(completer):
    src, line, col = source_with("pkg/shapes.py", 16, "        x = foo(self.sa")
    src = src.replace("    def area(self):", "    def area(self:")  # an unrelated syntax error too
    c = completer.complete("pkg/shapes.py", src, line, col)
    assert labels(c) == ["save"]


def test_leakage_rule_counts_buffer_not_indexed_file(completer):
    # The indexed shapes.py uses self.save twice and u.helper twice; the buffer neither
    # self.save nor the u.helper(1) the cursor line replaced. Only the buffer's uses count.
    src, line, col = source_with("pkg/shapes.py", 16, "        self.")
    src = src.replace('        self.save("x")\n        self.save("y")\n', "        pass\n        pass\n")
    uses = completer.attribute_uses("pkg/shapes.py", src, line, col)
    assert uses[("self", "save")] == 0
    assert uses[("u", "helper")] == 1
    assert uses[("s", "area")] == 2  # other files keep their indexed counts
    c = completer.complete("pkg/shapes.py", src, line, col)
    # save no longer leads: its uses are gone, and it is inherited (after the own members)
    assert labels(c)[:7] == ["size", "color", "area", "draw", "__init__", "_hidden", "save"]


def test_resolve_gives_signature_and_doc(completer):
    src, line, col = source_with("pkg/shapes.py", 16, "        self.sa")
    item = completer.complete("pkg/shapes.py", src, line, col).items[0]
    assert isinstance(item, CompletionItem) and item.symbol_id
    assert completer.resolve(item.symbol_id) == SymbolInfo(
        signature="def save(self, path: str) -> None",
        doc="Write it to path.",
        qualname="pkg.base.Base.save",
        path="pkg/base.py",
        line=4,
    )
    with pytest.raises(KeyError, match="no symbol with id"):
        completer.resolve(10**9)


def test_builtin_literal_receiver(completer):
    src, line, col = source_with("pkg/use.py", 6, '    ", ".jo')
    assert labels(completer.complete("pkg/use.py", src, line, col)) == ["join"]


def test_index_stores_attributes_and_uses(completer):
    rows = completer.store.conn.execute(
        "SELECT f.path, a.owner, a.name, a.line, a.value FROM attributes a JOIN files f ON f.id = a.file_id ORDER BY f.path, a.line"
    ).fetchall()
    assert rows == [
        ("pkg/shapes.py", "pkg.shapes.Shape", "size", 8, ":int"),
        ("pkg/shapes.py", "pkg.shapes.Shape", "color", 9, ":str"),
        ("pkg/util.py", "pkg.util", "LIMIT", 1, ":int"),
    ]
    assert completer.indexed_uses("pkg/use.py") == {("s", "area"): 2, ("s", "draw"): 1}


def test_super_in_a_method_completes_the_base(completer):
    src, line, col = source_with("pkg/shapes.py", 16, "        super().")
    c = completer.complete("pkg/shapes.py", src, line, col)
    assert (c.receiver, c.receiver_type) == ("super()", "pkg.base.Base")
    assert labels(c) == ["save", "_hidden"]  # save is used on self in the buffer; Shape's own members are not Base's


def test_receivers_of_the_same_type_rank_its_members(completer):
    # use.py calls s.area() twice and s.draw() once, and every name after `s` is a Shape
    # member: `s` counts as a Shape receiver, so a Shape parameter elsewhere ranks by it.
    src = "from pkg.shapes import Shape\n\n\ndef f(x: Shape):\n    x."
    c = completer.complete("pkg/new.py", src, 4, 6)
    assert c.receiver_type == "pkg.shapes.Shape"
    # then the other members by their uses anywhere (size 3, color 1, save 2 but inherited)
    assert labels(c) == ["area", "draw", "size", "color", "save", "__init__", "_hidden"]
    members = completer.members(completer.typer.eval("x"))
    assert completer.typed_receivers("pkg.shapes.Shape", members) == ["s"]
    # Completing in use.py itself, its indexed uses of `s` are swapped for the buffer's (none left).
    src, line, col = source_with("pkg/use.py", 6, "    x: Shape = n\n    x.")
    src = src.replace("    s.area()\n", "").replace("    s.draw()\n", "")
    c = completer.complete("pkg/use.py", src, line, 6)
    assert labels(c) == ["size", "area", "color", "save", "__init__", "draw", "_hidden"]  # draw: no use left


def test_untyped_receiver_gets_the_repository_names_without_a_prefix(completer):
    src = "def f(thing):\n    thing."
    c = completer.complete("pkg/new.py", src, 1, 10)
    assert c.receiver_type == ""
    # usage alone: size 3 (self.size x3 in shapes.py), area 3, save 2, helper 2, then the ones used once,
    # then the str, list and dict methods (an unknown object is often one of those), by name
    got = labels(c)
    assert got[:7] == ["area", "size", "helper", "save", "color", "draw", "render"]
    assert got[7:] == sorted({n for t in (str, list, dict) for n in dir(t) if not n.startswith("_")})[: len(got) - 7]
    assert len(got) == 7 + len({n for t in (str, list, dict) for n in dir(t) if not n.startswith("_")}) and "rstrip" in got


def test_buffer_uses_near_the_cursor_rank_first(tmp_path):
    filler = "".join(f"x{i} = {i}\n" for i in range(200))
    (tmp_path / "m.py").write_text("")
    build_index(tmp_path, IndexConfig(jobs=1))
    # the uses stand after "=", the cursor at a line start: their context token does not rank them
    src = f"def far(obj):\n    a = obj.beta()\n    b = obj.beta()\n\n\n{filler}\ndef near(obj):\n    c = obj.alpha()\n    obj."
    line = src.count("\n")
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        assert labels(Completer(store, weights=HAND).complete("m.py", src, line, 8))[:2] == ["alpha", "beta"]  # str/list/dict methods follow
        # Without closeness the twice-used name leads: the weight is what ranks alpha first.
        assert labels(Completer(store, weights=RankWeights(near=0.0)).complete("m.py", src, line, 8))[:2] == ["beta", "alpha"]
    finally:
        store.close()


def test_self_counts_come_from_the_enclosing_class(tmp_path):
    (tmp_path / "m.py").write_text("")
    build_index(tmp_path, IndexConfig(jobs=1))
    src = textwrap.dedent('''
        class A:
            def f(self):
                return self.bb + self.bb + self.bb + self.bb

            def bb(self):
                pass


        class B:
            def bb(self):
                return self.cc()

            def cc(self):
                return self.
        ''').lstrip("\n").rstrip(" \n")
    line = src.count("\n")
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        c = Completer(store, weights=HAND).complete("m.py", src, line, len(src.split("\n")[-1]))
        assert c.receiver_type == "m.B"
        assert labels(c) == ["cc", "bb"]  # A's self.bb uses say nothing about B
    finally:
        store.close()


def test_uses_after_any_alias_of_a_module_count(completer):
    # shapes.py writes u.helper twice and u.render once (`import pkg.util as u`); another
    # alias of pkg.util ranks by them, LIMIT (never used) last.
    src = "import pkg.util as zz\n\nzz."
    c = completer.complete("pkg/new.py", src, 2, 3)
    assert c.receiver_type == "pkg.util"
    assert labels(c) == ["helper", "render", "LIMIT"]
    assert completer.receiver_qual("pkg.shapes", "u") == "pkg.util"
    assert completer.receiver_qual("pkg.shapes", "u.helper") == "pkg.util.helper"
    assert completer.receiver_qual("pkg.shapes", "u.helper()") == ""
    without = Completer(completer.store, weights=RankWeights(qual=0.0)).complete("pkg/new.py", src, 2, 3)
    gain = {i.label: round(i.score - j.score, 4) for i in c.items for j in without.items if i.label == j.label}
    assert gain == {"helper": round(math.log(3), 4), "render": round(math.log(2), 4), "LIMIT": 0.0}


def test_standard_library_members_beyond_the_repository_uses(completer):
    src = "import tempfile\nimport os\n\ntempfile.Named"
    c = completer.complete("pkg/new.py", src, 3, 14)
    assert [(i.label, i.kind) for i in c.items] == [("NamedTemporaryFile", "function")]
    src = "import os\n\nos.path.isa"
    assert labels(completer.complete("pkg/new.py", src, 2, 11)) == ["isabs"]


def test_stdlib_members_are_read_statically():
    from graphmer.complete.stdlib_members import members

    assert {"join", "isabs", "splitext"} <= set(members("os.path"))
    assert "_getfullpathname" not in members("os.path")  # ntpath's: os binds posixpath first
    assert {"now", "fromtimestamp"} <= set(members("datetime.datetime"))
    assert {"cast", "Optional", "TextIO"} <= set(members("typing"))
    assert "R_OK" in members("os")  # from posix import *: compiled, listed by dir()
    assert members("jinja2") == {} and members("pkg.util") == {}
    popen = members("subprocess.Popen")
    assert popen["stdin"] == "attribute" and popen["wait"] == "method"  # `self.stdin = ...` in a method
    assert {"flush", "readline", "close"} <= set(members("typing.BinaryIO"))  # from its base IO[bytes]
    assert "value" in members("ctypes.c_ulong")  # base _SimpleCData from the compiled _ctypes
    assert not any(n.startswith("__") for n in members("collections.OrderedDict"))  # `self.__map` is mangled
    assert {"name", "value"} <= set(members("enum.IntEnum"))  # enum.py binds `Enum = None` before the class
    assert {"IGNORECASE", "VERBOSE"} <= set(members("re"))  # @enum.global_enum exports RegexFlag's members
    assert {"group", "span"} <= set(members("re.Match")) and "finditer" in members("re.Pattern")  # made at run time


def test_the_token_before_the_receiver_ranks_by_its_own_counts(tmp_path):
    (tmp_path / "m.py").write_text(textwrap.dedent('''
        import typing as t


        def f(x: t.Any, y: t.Any, z: t.Any) -> t.Any:
            return t.cast(int, x)
        ''').lstrip("\n"))
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        c = Completer(store, weights=HAND)
        assert c.store.conn.execute("SELECT receiver, name, ctx, count FROM attr_uses ORDER BY name, ctx").fetchall() == [
            ("t", "Any", "->", 1), ("t", "Any", ":", 3), ("t", "cast", "return", 1)]
        src = "import typing as t\n\n\ndef g(a):\n    return t."
        assert labels(c.complete("n.py", src, 4, 13))[:2] == ["cast", "Any"]
        src = "import typing as t\n\n\ndef g(a: t."
        assert labels(c.complete("n.py", src, 3, 11))[:2] == ["Any", "cast"]
        # without the context features, `return t.` offers the more used Any first
        src = "import typing as t\n\n\ndef g(a):\n    return t."
        plain = Completer(store, weights=RankWeights(context=0.0, context_last=0.0, ctx_ratio=0.0))
        assert labels(plain.complete("n.py", src, 4, 13))[:2] == ["Any", "cast"]
    finally:
        store.close()


def test_version_3_index_is_upgraded_and_reparsed_for_contexts(tmp_path):
    import json

    from graphmer.index.store import FORMAT_VERSION

    (tmp_path / "m.py").write_text("import os\n\n\ndef f():\n    return os.getcwd()\n")
    build_index(tmp_path, IndexConfig(jobs=1))
    # As graphmer with index format 3 left it: no ctx column.
    as_older_index(tmp_path / INDEX_DIRNAME, 3, "m004_attr_use_context", "ALTER TABLE attr_uses DROP COLUMN ctx")
    build_index(tmp_path, IndexConfig(jobs=1))  # m004 adds the column and marks the files for re-parsing
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        assert store.conn.execute("SELECT receiver, name, count, ctx FROM attr_uses").fetchall() == [("os", "getcwd", 1, "return")]
        assert json.loads((tmp_path / INDEX_DIRNAME / "meta.json").read_text())["version"] == FORMAT_VERSION == 5
    finally:
        store.close()


@pytest.mark.parametrize("before, token", [("    return ", "return"), ("def f(x: ", ":"), ("  ", "^"), ("a = b + ", "+"),
                                           ("f(a, ", ","), ("x ", "?"), ("if not ", "not")])
def test_context_token(before, token):
    from graphmer.index.pynames import context_token

    assert context_token(before) == token


@pytest.mark.parametrize("before, name", [("    env = ", "env"), ("f(a, key=", "key"), ("x == ", ""), ("x: int = ", "x"),
                                          ("return ", "")])
def test_assigned_name(before, name):
    from graphmer.complete.cursor import assigned_name

    assert assigned_name(before) == name


def test_name_match_and_the_names_around_the_cursor(completer):
    from graphmer.complete.features import name_match

    assert [name_match("env", "environment"), name_match("_name", "NAME"), name_match("x", "xa"), name_match("", "a")] == [0.5, 1.0, 0.0, 0.0]
    # `color = self.` and `def color(self): return self.` put color first, before size and save
    for text in ("        color = self.", "        x = dict(color=self."):
        src, line, col = source_with("pkg/shapes.py", 16, text)
        assert labels(completer.complete("pkg/shapes.py", src, line, col))[0] == "color"
    src = "class A:\n    def __init__(self):\n        self.big = self.big2 = self.label = 1\n\n    def label_text(self):\n        return self."
    assert labels(completer.complete("pkg/new.py", src, 5, 20))[0] == "label"


def test_with_as_and_generic_bases_give_types(tmp_path):
    (tmp_path / "m.py").write_text(textwrap.dedent('''
        import typing as t

        T = t.TypeVar("T")


        class Base(t.Generic[T]):
            def fail(self) -> None: ...


        class Ctx(Base[int]):
            def scope(self) -> None: ...


        def make() -> Ctx:
            return Ctx()


        def f():
            with make() as ctx, open("x") as (a):
                ctx.
        ''').lstrip("\n"))
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        src = (tmp_path / "m.py").read_text()
        got = Completer(store).complete("m.py", src, 19, 12)
        assert got.receiver_type == "m.Ctx"  # `with make() as ctx`: what make() returns
        assert {"scope", "fail"} <= set(labels(got))  # fail: from the base written Base[int]
        bases = store.conn.execute(
            "SELECT s.qualname, d.qualname FROM edges e JOIN symbols s ON s.id = e.src JOIN symbols d ON d.id = e.dst "
            "WHERE e.relation = 'inherits_from' ORDER BY 1").fetchall()
        assert ("m.Ctx", "m.Base") in bases
    finally:
        store.close()


TYPED = '''
    from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

    if TYPE_CHECKING:
        from pkg.other import Opts


    class Text:
        def pad_right(self) -> None: ...

        @classmethod
        def make(cls) -> "Text": ...

        def lines(self) -> List["Text"]: ...

        @property
        def plain(self) -> str: ...


    class Seg(NamedTuple):
        text: str
        style: Text

    class Lines:
        def __iter__(self) -> Iterator[Text]: ...

        def __getitem__(self, i: int) -> Text: ...


    class Holder:
        def __init__(self, text: Optional[Text] = None) -> None:
            self.text = text or Text()
            self.spans: List[Text] = []
            self.by_name: Dict[str, Text] = {}

        def work(self, lines: List[Text], many: Iterable[Text], pair: Tuple[Text, ...], opts: "Opts", t: "Text | None",
                 block: Lines, segs: List[Seg], two: Tuple[str, Text]):
            CURSOR
    '''
OTHER = '''
    class Opts:
        def update_width(self) -> None: ...
    '''


@pytest.mark.parametrize("code, qual", [
    ("for line in lines:\n            line.", "pkg.m.Text"),  # an element of List[Text]
    ("for x in many:\n            x.", "pkg.m.Text"),  # Iterable[Text]: no class, but elements
    ("for i, x in enumerate(self.spans):\n            x.", "pkg.m.Text"),  # a self attribute's annotation, through enumerate
    ("for k, v in self.by_name.items():\n            v.", "pkg.m.Text"),  # a mapping's values
    ("for v in self.by_name.values():\n            v.", "pkg.m.Text"),
    ("for k in self.by_name:\n            k.", "builtins.str"),  # iterating a dict gives its keys
    ("for x in Text().lines():\n            x.", "pkg.m.Text"),  # a return annotation's element
    ("first = pair[0]\n        first.", "pkg.m.Text"),  # an item of Tuple[Text, ...]
    ("self.by_name['a'].", "pkg.m.Text"),  # a dict's item is a value
    ("self.text.", "pkg.m.Text"),  # `text or Text()`: the first operand's annotation
    ("t.", "pkg.m.Text"),  # "Text | None"; and a class named Text is not typing.Text (str)
    ("Text.make().", "pkg.m.Text"),
    ("opts.", "pkg.other.Opts"),  # a string annotation of a name imported under TYPE_CHECKING
    ("for x in block:\n            x.", "pkg.m.Text"),  # a class's __iter__ -> Iterator[Text]
    ("block[0].", "pkg.m.Text"),  # its __getitem__
    ("widths = [x.plain for x in lines if x.", "pkg.m.Text"),  # a comprehension's variable
    ("t = t.", "pkg.m.Text"),  # `t = t.`: t is still the parameter on its own line
    ("for text, style in segs:\n            style.", "pkg.m.Text"),  # a NamedTuple's 2nd field, unpacked
    ("a, b = two\n        b.", "pkg.m.Text"),  # Tuple[str, Text]
    ("a, b = two\n        a.", "builtins.str"),
    ("t = t.lines()\n        t.", "builtins.list"),  # `x = x.f()`: f of what x was before
    ("x = Text()\n        x = x.make()\n        x.", "pkg.m.Text"),
    ("lines = lines[0]\n        lines.", "pkg.m.Text"),  # an item of what it was
    ("lines = lines[1:]\n        lines.", "builtins.list"),  # a slice is the container's type
    ("x = lines\n        x = x[:2]\n        x = x\n        x.", "builtins.list"),
])
def test_element_and_optional_types(tmp_path, code, qual):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "other.py").write_text(textwrap.dedent(OTHER))
    src = textwrap.dedent(TYPED).lstrip("\n").replace("CURSOR", code)
    (tmp_path / "pkg" / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    got = complete_last_dot(tmp_path, "pkg/m.py", src)
    assert got.receiver_type == qual
    if qual == "pkg.m.Text":
        kinds = {it.label: it.kind for it in got.items}
        assert kinds["plain"] == "property" and kinds["pad_right"] == "method"  # a @property reads as an attribute


def test_signature_parts_and_call_slot():
    from graphmer.complete.cursor import call_slot
    from graphmer.complete.signatures import signature_parts

    assert signature_parts("def f(self, a: int, *b, c: dict[str, int] = 1, **kw) -> bool") == (("a", "c"), "bool", False)
    assert signature_parts("async def g(cls)") == ((), "", True)
    assert signature_parts("def h(a, /, *, b)") == (("a", "b"), "", False)
    assert signature_parts("class C") == ((), "", False)
    assert call_slot("x = f(a, ") == ("f", 1)
    assert call_slot("self.run(g(1, 2), [3, 4], ") == ("self.run", 2)
    assert call_slot("g(key=") == ("", -1)  # a keyword argument: assigned_name's
    assert call_slot("x = [") == ("", -1)
    assert call_slot("x = (") == ("", -1)


def test_returns_named_and_first_param():
    from graphmer.complete.features import returns_named
    from graphmer.complete.signatures import first_param

    assert returns_named("render_options", 'def update(self, width: int) -> "ConsoleOptions"') == 0.5
    assert returns_named("style", "=Style()") == 1.0  # `self.style = Style(...)`
    assert returns_named("style", ":Optional[Style]") == 1.0
    assert returns_named("count", ":Optional[int]") == 0.0  # typing's words name nothing
    assert returns_named("", "def f(self) -> Style") == 0.0
    assert first_param("def fit( cls, renderable: 'R', box: Box = ROUNDED)") == "cls"
    assert first_param("def make()") == "" and first_param(":int") == ""


SIGNALS = '''
    class Iter:
        def __init__(self, gen, limiter):
            self.gen = gen


    class Worker:
        def __init__(self):
            self.limiter = 1
            self.gen = 2
            self.alpha = 3
            self.ready = False

        async def fetch(self) -> int: ...

        def pending(self) -> List[int]: ...

        def one(self):
            self.begin()
            self.alpha
            self.end()

        def two(self):
            CURSOR
    '''


@pytest.mark.parametrize("code, feature, name", [
    ("Iter(self.gen, self.", "slot", "limiter"),  # the 2nd parameter of Iter() is `limiter`
    ("await self.", "await_async", "fetch"),
    ("if self.", "bool_cond", "ready"),  # `self.ready = False`
    ("for x in self.", "iter_in", "pending"),  # -> List[int]
    ("self.begin()\n        self.", "seq", "alpha"),  # after begin, this file went on to alpha
    ("x = self.alpha - self.", "line_dup", "alpha"),  # read already on this line: rarely twice
    ("yield 'gen', self.", "quoted", "gen"),  # `yield "link", self.link`
    ("yield self.limiter\n        yield self.", "next_def", "gen"),  # fields listed in the order they are assigned
    ("self.", "own_def", "two"),  # the method the cursor is in: a recursive call, rarely meant
])
def test_context_signals_of_signatures_calls_and_sequences(tmp_path, code, feature, name):
    src = "from typing import List\n" + textwrap.dedent(SIGNALS).lstrip("\n").replace("CURSOR", code)
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    lines = src.split("\n")
    row = max(i for i, line in enumerate(lines) if line.rstrip().endswith("."))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        c = Completer(store, weights=HAND)
        c.feature_log = []
        c.complete("m.py", src, row, len(lines[row]))
        values = {n: f.get(feature, 0.0) for n, f in c.feature_log}
        assert values[name] > 0
        assert [n for n, v in values.items() if v > 0] == [name]  # no other candidate gets it
    finally:
        store.close()


def test_an_older_index_is_reparsed_for_the_new_attribute_values(tmp_path):
    src = "class A:\n    def __init__(self, x: 'A' = None):\n        self.other = x or A()\n"
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    index = tmp_path / INDEX_DIRNAME
    as_older_index(index, 5, "m006_reparse_attribute_values", "UPDATE attributes SET value = '' WHERE name = 'other'")
    build_index(tmp_path, IndexConfig(jobs=1))  # m006 marks the files for re-parsing: nothing else changed
    store = Store(index)
    try:
        assert store.conn.execute("SELECT value FROM attributes WHERE name = 'other'").fetchone() == (":'A'",)
    finally:
        store.close()


def test_unpacked_self_attributes_are_members_and_older_indexes_reparse(tmp_path):
    src = ("class Box:\n    def __init__(self, line):\n        self.left, _, (self.mid, [self.right]) = line\n"
           "        a.b, self.c = 1, 2\n\n    def get(self):\n        self.\n")
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    index = tmp_path / INDEX_DIRNAME
    names = "SELECT name FROM attributes WHERE owner LIKE '%Box' ORDER BY line, name"
    store = Store(index)
    try:
        assert [r[0] for r in store.conn.execute(names)] == ["left", "mid", "right", "c"]
        got = Completer(store, weights=HAND).complete("m.py", src, 6, 13)
        members = {it.label for it in got.items if it.kind != "attribute" or it.detail}
        assert {"left", "mid", "right", "c", "get"} <= set(labels(got)) and "b" not in labels(got)
        assert {"left", "mid", "right"} <= members
    finally:
        store.close()
    as_older_index(index, 5, "m007_reparse_unpacked_attributes", "DELETE FROM attributes WHERE name IN ('mid', 'c')")
    build_index(tmp_path, IndexConfig(jobs=1))  # m007 marks the files for re-parsing
    store = Store(index)
    try:
        assert [r[0] for r in store.conn.execute(names)] == ["left", "mid", "right", "c"]
    finally:
        store.close()


def test_a_class_with_a_memberless_stdlib_base_lists_only_its_members(tmp_path):
    (tmp_path / "other.py").write_text("def f(x):\n    x.elsewhere()\n    x.elsewhere()\n")
    src = "import abc\n\n\nclass A(abc.ABC):\n    def run(self): ...\n\n    def go(self):\n        self.\n"
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        got = Completer(store, weights=HAND).complete("m.py", src, 7, 13)
        assert got.receiver_type == "m.A"
        assert sorted(labels(got)) == ["go", "run"]  # abc.ABC has no members: not a class we cannot see
    finally:
        store.close()


@pytest.mark.parametrize("code, qual", [
    ("import logging\nlog = logging.getLogger('x')\nlog.", "logging.Logger"),
    ("import os\nos.stat('x').", "os.stat_result"),
    ("import os.path\nos.path.join('a', 'b').", "builtins.str"),
    ("with open('x') as f:\n    f.", "io.TextIOWrapper"),
    ("import re\nWORD = re.compile('w')\nWORD.", "re.Pattern"),  # re.Pattern and re.Match: made at run time
    ("import re\nWORD = re.compile('w')\nm = WORD.match('x')\nm.", "re.Match"),  # a stdlib method's return
    ("import re\nfor m in re.finditer('a', 'b'):\n    m.", "re.Match"),  # Iterator[re.Match]
])
def test_common_standard_library_functions_have_return_types(tmp_path, code, qual):
    (tmp_path / "m.py").write_text(code)
    build_index(tmp_path, IndexConfig(jobs=1))
    lines = code.split("\n")
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        got = Completer(store, weights=HAND).complete("m.py", code, len(lines) - 1, len(lines[-1]))
        assert got.receiver_type == qual and got.items
    finally:
        store.close()


def test_an_untyped_receiver_named_like_a_class_gets_its_members(tmp_path):
    src = ("class Style:\n    def without_color(self): ...\n\n    def combine(self): ...\n\n\n"
           "class _Cell:\n    vertical = 1\n\n\ndef f(style, _cell, other):\n    style.\n    _cell.\n    other.\n")
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        c = Completer(store, weights=HAND)
        for row, col, want in ((11, 10, {"without_color", "combine"}), (12, 10, {"vertical"}), (13, 10, set())):
            c.feature_log = []
            got = c.complete("m.py", src, row, col)
            assert got.receiver_type == ""  # no annotation: the class is a guess from the name, not a type
            assert {n for n, f in c.feature_log if f["name_type"]} == want
            assert want <= set(labels(got))
    finally:
        store.close()


def test_members_of_instances_are_marked_when_read_on_the_class(tmp_path):
    (tmp_path / "panel.py").write_text(textwrap.dedent('''
        class Panel:
            ROUNDED = 1

            def __init__(self, title):
                self.title = title

            @classmethod
            def fit(cls, x):
                return cls(x)

            @staticmethod
            def make():
                return 1

            @property
            def width(self):
                return 2

            def render(self):
                return self.title
        ''').lstrip("\n"))
    src = "from panel import Panel\n\n\nclass Wide(Panel):\n    def grow(self): ...\n\n\nPanel.\nWide.\n"
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        c = Completer(store, weights=HAND)
        for row, own in ((7, set()), (8, {"grow"})):  # an indexed class, and a buffer class over it
            c.feature_log = []
            got = c.complete("m.py", src, row, len(src.split("\n")[row]))
            assert got.receiver_type in ("panel.Panel", "m.Wide")
            assert {n for n, f in c.feature_log if f["cls_self"]} == {"__init__", "title", "width", "render"} | own
            assert labels(got)[0] in ("fit", "make", "ROUNDED")
    finally:
        store.close()


def test_ctx_lr_weighs_a_names_rate_in_the_context_against_the_receivers(tmp_path):
    src = textwrap.dedent('''
        def f(x):
            return x.alpha
        def g(x):
            return x.alpha
        def h(x):
            x.beta()
            x.beta()
            x.beta()
            y = x.gamma
        def k(x):
            return x.
        ''').lstrip("\n")
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        c = Completer(store, weights=HAND)
        c.feature_log = []
        c.complete("m.py", src, 10, 13)
        lr = {n: f["ctx_lr"] for n, f in c.feature_log}
        assert lr["alpha"] > 0 > lr["gamma"] > lr["beta"]  # beta: read 3 times, never after `return`
    finally:
        store.close()


def test_a_local_name_shadowing_a_base_does_not_loop(tmp_path):
    # `cmd` in the method is the tuple's first field, read through self: evaluating the class's
    # base `cmd.Cmd` from the cursor's scope leads back to the class; it must stop, not recurse.
    src = textwrap.dedent('''
        import cmd


        class Shell(cmd.Cmd):
            def parse(self): ...

            def run(self, line):
                cmd, arg = self.parse()
                self.
        ''').lstrip("\n")
    (tmp_path / "m.py").write_text(src)
    build_index(tmp_path, IndexConfig(jobs=1))
    store = Store(tmp_path / INDEX_DIRNAME)
    try:
        lines = src.split("\n")
        got = Completer(store, weights=HAND).complete("m.py", src, 8, len(lines[8]))
        assert got.receiver_type == "m.Shell" and "parse" in labels(got)
    finally:
        store.close()


ARGPARSE = '''
import argparse


def main():
    parser = argparse.ArgumentParser(description="show a file")
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("-c", "--force-color", dest="color", action="store_true")
    parser.add_argument("--line-numbers", "-n", action="store_true")
    parser.add_argument("-w", help="width")
    parser.add_argument(f"--{name}")  # not a name it can read
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--dry-run')
    CURSOR
'''


@pytest.mark.parametrize("code", ["args = parser.parse_args()\n    args.", "args, rest = parser.parse_known_args()\n    args."])
def test_argparse_namespaces_complete_the_declared_options(tmp_path, code):
    src = textwrap.dedent(ARGPARSE).lstrip("\n").replace("CURSOR", code)
    (tmp_path / "m.py").write_text("")
    build_index(tmp_path, IndexConfig(jobs=1))
    got = complete_last_dot(tmp_path, "m.py", src)
    assert got.receiver_type == "argparse.Namespace"
    assert sorted(labels(got)[:5]) == ["color", "dry_run", "line_numbers", "path", "w"]
    assert all(it.kind == "attribute" for it in got.items[:5])
