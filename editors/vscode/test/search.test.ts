import assert from "node:assert/strict";
import { test } from "node:test";
import {
  errorMessage,
  firstLine,
  hitToItem,
  kindIcon,
  parseHits,
  parseReindex,
  SearchHit,
  searchParams,
  serverNotRunningMessage,
} from "../src/search";

const hit: SearchHit = {
  name: "parse_args",
  qualname: "graphmer.cli.main.parse_args",
  kind: "function",
  path: "graphmer/cli/main.py",
  uri: "file:///work/repo/graphmer_cli/main.py",
  range: { start: { line: 41, character: 4 }, end: { line: 41, character: 14 } },
  score: 0.87654,
  snippet: "\n  def parse_args(argv: list[str]) -> Namespace:\n      parser = ArgumentParser()\n",
};

test("searchParams builds the executeCommand parameters", () => {
  assert.deepEqual(searchParams("  read a config file "), {
    command: "graphmer.search",
    arguments: ["read a config file", { limit: 50 }],
  });
  assert.deepEqual(searchParams("q", 10, "dense"), {
    command: "graphmer.search",
    arguments: ["q", { limit: 10, mode: "dense" }],
  });
});

test("searchParams falls back to the default limit and drops unknown modes", () => {
  for (const limit of [0, -3, 2.5, "20", undefined, null]) {
    assert.deepEqual(searchParams("q", limit).arguments[1], { limit: 50 });
  }
  assert.deepEqual(searchParams("q", 5, null).arguments[1], { limit: 5 });
  assert.deepEqual(searchParams("q", 5, "fuzzy").arguments[1], { limit: 5 });
  assert.deepEqual(searchParams("q", 5, "lexical").arguments[1], { limit: 5, mode: "lexical" });
});

test("hitToItem labels name and kind, gives path:line and score with the snippet's first line", () => {
  const item = hitToItem(hit);
  assert.equal(item.label, "$(symbol-function) parse_args (function)");
  assert.equal(item.description, "graphmer/cli/main.py:42");
  assert.equal(item.detail, "0.877  def parse_args(argv: list[str]) -> Namespace:");
  assert.equal(item.hit, hit);
});

test("hitToItem without a snippet shows the score alone", () => {
  const item = hitToItem({ ...hit, kind: "Widget", snippet: "  \n", score: 1 });
  assert.equal(item.label, "$(symbol-misc) parse_args (Widget)");
  assert.equal(item.detail, "1.000");
});

test("kindIcon maps known kinds case-insensitively", () => {
  assert.equal(kindIcon("Class"), "symbol-class");
  assert.equal(kindIcon("method"), "symbol-method");
  assert.equal(kindIcon("something"), "symbol-misc");
});

test("firstLine skips blank lines and handles CRLF", () => {
  assert.equal(firstLine("\r\n\r\n  fn main() {\r\n}"), "fn main() {");
  assert.equal(firstLine(""), "");
});

test("parseHits accepts an array of hits and rejects anything else", () => {
  assert.deepEqual(parseHits([hit, hit]), [hit, hit]);
  assert.deepEqual(parseHits([]), []);
  assert.throws(() => parseHits(null), /expected an array of hits/);
  assert.throws(() => parseHits({ hits: [] }), /expected an array of hits/);
  assert.throws(() => parseHits([hit, { ...hit, range: { start: { line: 1 } } }]), /hit 1 is malformed/);
  assert.throws(() => parseHits([{ ...hit, score: "0.5" }]), /hit 0 is malformed/);
});

test("parseReindex reads files and symbols", () => {
  assert.deepEqual(parseReindex({ files: 12, symbols: 340, extra: true }), { files: 12, symbols: 340 });
  assert.throws(() => parseReindex(null), /expected \{files, symbols\}/);
  assert.throws(() => parseReindex({ files: 1 }), /expected \{files, symbols\}/);
});

test("errorMessage reads Error, error-like objects and other values", () => {
  assert.equal(errorMessage(new Error("index not built")), "index not built");
  assert.equal(errorMessage({ code: -32603, message: "internal" }), "internal");
  assert.equal(errorMessage("boom"), "boom");
});

test("serverNotRunningMessage names the graphmer.path setting", () => {
  const message = serverNotRunningMessage("/opt/graphmer", "spawn /opt/graphmer ENOENT");
  assert.match(message, /"graphmer\.path"/);
  assert.match(message, /now "\/opt\/graphmer"/);
  assert.match(message, /spawn \/opt\/graphmer ENOENT/);
  assert.doesNotMatch(serverNotRunningMessage("graphmer"), /\(\)/);
});
