import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { findExecutable } from "../src/executable";

const posix = process.platform !== "win32";

test("findExecutable looks bare names up on PATH and resolves relative paths against cwd", { skip: !posix }, () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "graphmer-vscode-"));
  try {
    const bin = path.join(root, "venv", "bin");
    fs.mkdirSync(bin, { recursive: true });
    const exe = path.join(bin, "graphmer");
    fs.writeFileSync(exe, "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "notexec"), "", { mode: 0o644 });
    const env = { PATH: ["/nonexistent", bin].join(path.delimiter) };

    assert.equal(findExecutable("graphmer", undefined, env), exe);
    assert.equal(findExecutable("graphmer", undefined, { PATH: "/nonexistent" }), undefined);
    assert.equal(findExecutable("notexec", undefined, env), undefined);
    assert.equal(findExecutable("venv/bin/graphmer", root, {}), exe);
    assert.equal(findExecutable("./venv/bin/graphmer", root, {}), exe);
    assert.equal(findExecutable(exe, "/elsewhere", {}), exe);
    assert.equal(findExecutable("venv/bin", root, {}), undefined);
    assert.equal(findExecutable(path.join(root, "missing"), undefined, {}), undefined);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
