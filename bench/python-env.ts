import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Finds the Python reference environments (Evidently, LightGBM, NannyML, schemathesis) that benchmarks and the
 * reference tests compare mlcycle with. `hack/python-env NAME` builds each one into the cache
 * from a pinned requirements file and prints `MLCYCLE_VENV_<NAME>=<directory>`; this reads that
 * variable and nothing else, so no machine path is written down in the repository.
 */
export type PythonEnvName = 'evidently' | 'lightgbm' | 'nannyml' | 'schemathesis';

export type PythonEnv = { python: string } | { missing: string };

export function pythonEnvVariable(name: PythonEnvName): string {
  return `MLCYCLE_VENV_${name.toUpperCase()}`;
}

/** The environment's interpreter, or why there is none and the command that builds it. */
export function pythonEnv(name: PythonEnvName): PythonEnv {
  const variable = pythonEnvVariable(name);
  const build = `export $(hack/python-env ${name})`;
  const dir = process.env[variable];
  if (!dir) return { missing: `${variable} is not set: build the environment with ${build}` };
  const python = join(dir, 'bin', 'python');
  if (!existsSync(python)) return { missing: `${python} does not exist: rebuild it with ${build}` };
  return { python };
}

/**
 * A Python script of bench/ by file name, from the source tree (tsx, vitest) or from the build
 * (dist/bench/, two levels below the repository).
 */
export function benchScript(file: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const found = [join(here, file), join(here, '..', '..', 'bench', file)].find((p) => existsSync(p));
  if (!found) throw new Error(`bench script ${file} not found beside ${here}`);
  return found;
}
