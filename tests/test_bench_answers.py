"""`graphmer bench answers`: the search answers of an index, query by query, with a digest that
tells two versions of graphmer apart exactly when a ranking differs."""
from __future__ import annotations

import json

from click.testing import CliRunner

from graphmer.bench import answers as answers_mod
from graphmer.bench.answers import search_answers
from graphmer.cli.main import cli
from graphmer.index.indexer import build_index
from graphmer.index.search import Searcher


def _indexed(sample_repo):
    build_index(sample_repo)
    return sample_repo


def test_answers_are_the_searcher_s_hits_for_each_docstring_query(sample_repo):
    root = _indexed(sample_repo)
    r = search_answers(root, n_queries=50, modes=("lexical",))
    # the sample functions' docstring sentences (module and class docstrings are not queries)
    assert sorted(r["queries"]) == sorted(["Write the object to disk.", "Save the store, then push it.",
                                           "Parse the config file and run the app."])
    s = Searcher.open(root)
    try:
        for q, got in zip(r["queries"], r["answers"]["lexical"]):
            want = [[h.path, h.qualname, h.start_line, round(float(h.score), 6)] for h in s.search(q, top_k=10, mode="lexical")]
            assert got == want and got
    finally:
        s.close()
    assert search_answers(root, n_queries=50, modes=("lexical",))["digest"] == r["digest"]  # stable run to run


def test_a_changed_ranking_changes_the_digest(sample_repo, monkeypatch):
    root = _indexed(sample_repo)
    before = search_answers(root, n_queries=50, modes=("lexical",))
    real = Searcher.search

    def reversed_hits(self, *a, **k):
        return list(reversed(real(self, *a, **k)))

    monkeypatch.setattr(answers_mod.Searcher, "search", reversed_hits)
    after = search_answers(root, n_queries=50, modes=("lexical",))
    assert after["queries"] == before["queries"] and after["digest"] != before["digest"]


def test_cli_prints_the_digest_and_json(sample_repo):
    root = _indexed(sample_repo)
    res = CliRunner().invoke(cli, ["bench", "answers", str(root), "--mode", "lexical", "--queries", "3"])
    assert res.exit_code == 0, res.output
    expected = search_answers(root, n_queries=3, modes=("lexical",))
    assert "3 queries in lexical" in res.output and expected["digest"] in res.output
    res = CliRunner().invoke(cli, ["bench", "answers", str(root), "--mode", "lexical", "--queries", "3", "--json"])
    assert json.loads(res.output) == expected
