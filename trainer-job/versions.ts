import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

/** The package root (where package.json is), found from this file in src or dist. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** Versions recorded as registry tags, so a model can be traced to the code that made it. */
export function codeVersions(): Record<string, string> {
  const root = packageRoot();
  const tags: Record<string, string> = {
    node_version: process.version,
    onnxruntime_version: ort.env.versions.node ?? ort.env.versions.common,
  };
  try {
    tags.code_version = (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    tags.code_version = 'unknown';
  }
  try {
    tags.git_commit = execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    })
      .toString()
      .trim();
  } catch {
    // Not a git checkout (a container image): no commit to record.
  }
  return tags;
}
