"""File discovery: ignore files (nested, negations), globs, limits, symlinks."""
from __future__ import annotations

import os

from conftest import write_tree
from graphmer.index.walk import WalkConfig, walk


def paths(result):
    return [f.path for f in result.files]


def test_gitignore_nested_and_negation(tmp_path):
    write_tree(
        tmp_path,
        {
            ".gitignore": "*.gen.py\nbuild/\nlogs/*.py\n!logs/keep.py\n",
            "a.py": "",
            "x.gen.py": "",
            "build/b.py": "",
            "logs/drop.py": "",
            "logs/keep.py": "",
            "sub/.gitignore": "local.py\n!x.gen.py\n",
            "sub/local.py": "",
            "sub/x.gen.py": "",
            "sub/ok.go": "",
            "other/local.py": "",
            "README.md": "",
        },
    )
    assert paths(walk(str(tmp_path))) == ["a.py", "logs/keep.py", "other/local.py", "sub/ok.go", "sub/x.gen.py"]


def test_graphmerignore_and_globs(tmp_path):
    write_tree(tmp_path, {".graphmerignore": "vendor/\n", "vendor/v.py": "", "src/a.py": "", "src/b.ts": "", "tests/t.py": ""})
    assert paths(walk(str(tmp_path))) == ["src/a.py", "src/b.ts", "tests/t.py"]
    assert paths(walk(str(tmp_path), WalkConfig(exclude=("tests/",)))) == ["src/a.py", "src/b.ts"]
    assert paths(walk(str(tmp_path), WalkConfig(include=("*.ts",)))) == ["src/b.ts"]
    assert paths(walk(str(tmp_path), WalkConfig(languages=("python",)))) == ["src/a.py", "tests/t.py"]


def test_language_detection(tmp_path):
    names = ["a.py", "b.pyi", "c.js", "d.mjs", "e.jsx", "f.ts", "g.tsx", "h.java", "i.go", "j.rs", "k.txt", "l.c"]
    write_tree(tmp_path, {n: "" for n in names})
    got = {f.path: f.language for f in walk(str(tmp_path)).files}
    assert got == {
        "a.py": "python", "b.pyi": "python", "c.js": "javascript", "d.mjs": "javascript", "e.jsx": "javascript",
        "f.ts": "typescript", "g.tsx": "tsx", "h.java": "java", "i.go": "go", "j.rs": "rust",
    }


def test_size_limit_reported(tmp_path):
    write_tree(tmp_path, {"small.py": "x = 1\n", "big.py": "x = 1\n" * 1000})
    r = walk(str(tmp_path), WalkConfig(max_bytes=100))
    assert paths(r) == ["small.py"]
    assert [(s.path, s.reason) for s in r.skipped] == [("big.py", "too large (6000 bytes > 100)")]


def test_symlink_loop_and_broken_link(tmp_path):
    write_tree(tmp_path, {"pkg/a.py": ""})
    os.symlink(tmp_path / "pkg", tmp_path / "pkg" / "loop")
    os.symlink(tmp_path / "missing.py", tmp_path / "dangling.py")
    r = walk(str(tmp_path))
    assert paths(r) == ["pkg/a.py"]
    assert sorted((s.path, s.reason) for s in r.skipped) == [
        ("dangling.py", "broken symlink"),
        ("pkg/loop", "symlink loop (folder already visited)"),
    ]


def test_default_skips_virtualenvs_and_caches(tmp_path):
    write_tree(tmp_path, {"env/pyvenv.cfg": "", "env/lib/x.py": "", "node_modules/m.js": "", "__pycache__/c.py": "",
                          ".git/h.py": "", "venv/__init__.py": "", "a.py": ""})
    assert paths(walk(str(tmp_path))) == ["a.py", "venv/__init__.py"]  # `venv` without pyvenv.cfg is a package


def test_empty_directory(tmp_path):
    r = walk(str(tmp_path))
    assert r.files == [] and r.skipped == []


def test_links_leaving_the_root_are_skipped_and_reported(tmp_path):
    outside = write_tree(tmp_path / "outside", {"secret.py": "def secret(): pass\n", "lib/leak.py": "x = 1\n", ".gitignore": "b.py\n"})
    root = write_tree(tmp_path / "repo", {"a.py": "", "pkg/b.py": ""})
    os.symlink(outside / "lib", root / "linked_dir")
    os.symlink(outside / "secret.py", root / "secret.py")
    os.symlink(outside / ".gitignore", root / ".gitignore")  # an ignore file outside is not read either
    os.symlink(root / "a.py", root / "alias.py")  # a link that stays inside is followed
    r = walk(str(root))
    assert paths(r) == ["a.py", "alias.py", "pkg/b.py"]
    assert sorted((s.path, s.reason) for s in r.skipped) == [
        ("linked_dir", f"symbolic link to {outside / 'lib'}, outside the indexed folder (not followed; --follow-links follows it)"),
        ("secret.py", f"symbolic link to {outside / 'secret.py'}, outside the indexed folder (not followed; --follow-links follows it)"),
    ]
    followed = walk(str(root), WalkConfig(follow_links=True))  # asked for: the links and the outside .gitignore are read
    assert paths(followed) == ["a.py", "alias.py", "linked_dir/leak.py", "secret.py"] and followed.skipped == []


def test_names_that_are_not_utf8_are_skipped_with_an_escaped_name(tmp_path):
    write_tree(tmp_path, {"fine.py": "x = 1\n"})
    root = os.fsencode(tmp_path)
    with open(root + b"/caf\xe9.py", "wb") as fh:
        fh.write(b"y = 2\n")
    os.mkdir(root + b"/d\xff")
    with open(root + b"/d\xff/inner.py", "wb") as fh:
        fh.write(b"z = 3\n")
    r = walk(str(tmp_path))
    assert paths(r) == ["fine.py"]
    assert sorted((s.path, s.reason) for s in r.skipped) == [
        ("caf\\xe9.py", "file name is not valid UTF-8"),
        ("d\\xff", "folder name is not valid UTF-8 (its files are not indexed)"),
    ]


def test_named_pipe_is_listed_as_skipped_and_never_opened(tmp_path):
    write_tree(tmp_path, {"a.py": ""})
    os.mkfifo(tmp_path / "x.py")  # opening it for reading would block the walk
    r = walk(str(tmp_path))
    assert paths(r) == ["a.py"]
    assert [(s.path, s.reason) for s in r.skipped] == [("x.py", "a named pipe, not a regular file")]
