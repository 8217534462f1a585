"""Graph variants of dense scores (graphmer/index/graph_vectors.py) and their fitting (graphmer/model/graph_fit.py)."""
from __future__ import annotations

import numpy as np

from graphmer.index.graph_vectors import neighbour_lists, neighbour_means, propagate, rerank
from graphmer.model.graph_fit import Copy, fit, mrr10, ranks


def unit(*rows):
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_neighbour_lists_follow_directions_and_skip_missing_or_self_edges():
    ids = np.array([1, 2, 3, 4])
    lists = neighbour_lists(ids, [(1, 2, "calls"), (1, 3, "calls"), (4, 1, "contains"), (2, 9, "calls"), (3, 3, "calls"),
                                  (2, 3, "overrides")])
    assert lists["callees"] == [[1, 2], [], [], []]
    assert lists["callers"] == [[], [0], [0], []]
    assert lists["container"] == [[3], [], [], []] and lists["members"] == [[], [], [], [0]]
    assert lists["overrides"] == [[], [2], [], []] and lists["overridden_by"] == [[], [], [1], []]


def test_propagation_mixes_the_mean_of_neighbours_and_renormalises():
    vecs = unit([1, 0], [0, 1], [0, 1])
    lists = {"callees": [[1, 2], [], []]}
    means = neighbour_means(vecs, lists)
    out = propagate(vecs, means, {"callees": 1.0})
    assert np.allclose(out[0], unit([1, 1])[0]) and np.allclose(out[1:], vecs[1:])
    assert np.allclose(propagate(vecs, means, {}), vecs)


def test_rerank_adds_the_best_neighbour_score_to_the_first_page_only():
    scores = np.array([[0.9, 0.5, 0.1]])
    lists = {"callers": [[2], [0], [1]]}
    out = rerank(scores, lists, {"callers": 0.5}, page=2)
    assert np.allclose(out, [[0.9 + 0.5 * 0.1, 0.5 + 0.5 * 0.9, 0.1]])


def _copy(answer_via_container: bool) -> Copy:
    # Two methods with the same code vector; the query matches only the first one's class.
    vecs = unit([0, 1, 0], [0.05, 1, 0], [1, 0, 0], [0, 0, 1])  # rows: m1, m2, class A, class B
    lists = {name: [[] for _ in range(4)] for name in ("callees", "callers", "container", "members", "overrides", "overridden_by")}
    lists["container"] = [[2], [3], [], []]
    lists["members"] = [[], [], [0], [1]]
    q = unit([0.6, 0.8, 0]) if answer_via_container else unit([0, 0.8, 0.6])  # A's topic, or B's
    from graphmer.index.graph_vectors import neighbour_means

    return Copy(vecs, np.array([True, True, False, False]), lists, neighbour_means(vecs, lists), q, np.array([0]))


def test_fit_finds_the_relation_that_carries_the_signal_and_keeps_zero_otherwise():
    train = [[_copy(True)]]
    assert ranks(train[0]) == [2]  # plain vectors: m2 wins by its own vector
    weights, best = fit(train, "propagate")
    assert weights.get("container", 0) > 0 and best == 1.0
    assert ranks(train[0], "propagate", weights) == [1]
    w_rerank, best_rerank = fit(train, "rerank")
    assert w_rerank.get("container", 0) > 0 and best_rerank == 1.0
    misleading = [[_copy(False)]]  # the query is about the other method's class: the graph can only hurt
    assert ranks(misleading[0]) == [1]
    assert ranks(misleading[0], "propagate", {"container": 0.35}) == [2]
    w0, best0 = fit(misleading, "propagate")
    assert "container" not in w0 and best0 == mrr10(ranks(misleading[0])) == 1.0


def test_bench_graph_indexes_each_fold_and_measures_both_variants(tmp_path):
    from click.testing import CliRunner

    from conftest import write_tree
    from fake_embedder import HashEmbedder
    from graphmer.cli.main import cli
    from graphmer.model.graph_fit import index_copies, measure

    def package(name):
        return write_tree(tmp_path / name / name, {
            "__init__.py": '"""A package about reading config files."""\n',
            "conf.py": '''
                class Reader:
                    """Reads configuration files from disk."""

                    def load(self, path):
                        """Load the configuration file at path."""
                        return self.parse(open(path).read())

                    def parse(self, text):
                        """Parse configuration text into a dictionary."""
                        return dict(line.split("=") for line in text.splitlines())


                def write_config(path, values):
                    """Write the settings back to a file."""
                    with open(path, "w") as f:
                        f.write(str(values))
            ''',
        })

    pkg = package("cfg")
    copies = index_copies(pkg, tmp_path / "work", HashEmbedder(), realistic=True, folds=3)
    assert len(copies) == 3 and sum(len(c.answer) for c in copies) == 3
    assert all((c.answer >= 0).all() for c in copies)
    doc = (tmp_path / "work" / "fold-0" / "cfg" / "conf.py").read_text()
    assert "Reads configuration files from disk." in doc  # the class keeps its docstring
    assert sum(c.lists["container"][int(c.answer[0])] != [] for c in copies if len(c.answer)) >= 2  # methods have their class
    r = measure([pkg], [package("other")], tmp_path / "m", HashEmbedder(), realistic=False)
    assert set(r["variants"]) == {"propagate", "rerank"} and r["mode"] == "stripped"
    assert r["variants"]["rerank"]["minus_plain"]["other"]["queries"] == 3
    # The command, with the stand-in model.
    import graphmer.model.embedder

    orig = graphmer.model.embedder.load_embedder
    graphmer.model.embedder.load_embedder = lambda path=None, **kw: HashEmbedder()
    try:
        res = CliRunner().invoke(cli, ["bench", "graph", "--fit", str(pkg), "--eval", str(tmp_path / "other" / "other"),
                                       "--work-dir", str(tmp_path / "cli"), "--keep-other-docs", "--folds", "3", "--json"])
    finally:
        graphmer.model.embedder.load_embedder = orig
    assert res.exit_code == 0, res.output
    out = __import__("json").loads(res.stdout)
    assert out["mode"] == "keep-other-docs" and out["folds"] == 3 and set(out["plain"]) == {"other"}
