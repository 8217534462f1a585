// Finds the graphmer executable as spawning it would, so that a missing one gives one clear
// message instead of a failed language client start. No `vscode` import (unit-tested).
import * as fs from "fs";
import * as path from "path";

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    fs.accessSync(file, process.platform === "win32" ? fs.constants.F_OK : fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file `command` names: a path with a directory part is taken relative to `cwd`; a bare
 * name is looked up on PATH (with PATHEXT's extensions on Windows). Undefined when none exists.
 */
export function findExecutable(
  command: string,
  cwd: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  const p = platform === "win32" ? path.win32 : path.posix;
  const extensions =
    platform === "win32" ? ["", ...(env.PATHEXT ?? ".COM;.EXE;.BAT;.CMD").split(";").filter(Boolean)] : [""];
  const candidates = (file: string) => extensions.map((ext) => file + ext);
  if (command.includes("/") || (platform === "win32" && command.includes("\\"))) {
    const file = p.isAbsolute(command) || !cwd ? command : p.resolve(cwd, command);
    return candidates(file).find(isExecutableFile);
  }
  const dirs = (env.PATH ?? env.Path ?? "").split(p.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const found = candidates(p.join(dir, command)).find(isExecutableFile);
    if (found) {
      return found;
    }
  }
  return undefined;
}
