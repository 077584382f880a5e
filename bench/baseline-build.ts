// The Tokengate of the `*-baseline` targets: another git revision (BENCH_BASELINE) built beside this
// checkout. Its tree is extracted with `git archive` into the run's temporary directory, so it goes
// when that directory goes and nothing is registered in the shared .git (no worktree to prune after a
// SIGKILL). It gets this checkout's node_modules (a symlink) when its package-lock.json is the same,
// else its own `npm ci`, and is compiled with its own tsconfig.build.json into its own dist/.
import { execFileSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChildProcessGroup } from './child-processes';

export interface BaselineBuild {
  /** The revision as given (BENCH_BASELINE). */
  readonly requested: string;
  /** The commit it names. */
  readonly commit: string;
  readonly shortCommit: string;
  /** Root of the extracted tree; its CLI is `dist/cli/main.js` under it. */
  readonly root: string;
  /** `linked`: this checkout's node_modules (same package-lock.json); `npm ci`: its own. */
  readonly dependencies: 'linked' | 'npm ci';
  readonly buildSeconds: number;
}

export interface BaselineBuildOptions {
  readonly repositoryRoot: string;
  readonly revision: string;
  /** The run's temporary directory (removed at exit, the baseline tree with it). */
  readonly workDir: string;
  readonly processes: ChildProcessGroup;
  readonly log: (message: string) => void;
}

/** Largest `git archive` output read into memory (the tree is ~2 MB). */
const MAX_ARCHIVE_BYTES = 512 * 1024 * 1024;

export async function buildBaseline(options: BaselineBuildOptions): Promise<BaselineBuild> {
  const startedAt = performance.now();
  const git = (args: readonly string[]): Buffer => execFileSync('git', [...args], { cwd: options.repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: MAX_ARCHIVE_BYTES });
  let commit: string;
  try {
    commit = git(['rev-parse', '--verify', '--quiet', `${options.revision}^{commit}`]).toString('utf8').trim();
  } catch {
    throw new Error(`BENCH_BASELINE=${options.revision} is not a commit of ${options.repositoryRoot}`);
  }
  const shortCommit = git(['rev-parse', '--short', commit]).toString('utf8').trim();
  const root = path.join(options.workDir, `baseline-${shortCommit}`);
  await mkdir(root, { recursive: true });
  execFileSync('tar', ['-x', '-C', root], { input: git(['archive', '--format=tar', commit]), stdio: ['pipe', 'ignore', 'pipe'] });

  let dependencies: BaselineBuild['dependencies'];
  if (sameLockFile(options.repositoryRoot, commit)) {
    await symlink(path.join(options.repositoryRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    dependencies = 'linked';
  } else {
    options.log(`baseline ${shortCommit}: package-lock.json differs from this checkout's; npm ci in ${root}`);
    await runOrThrow(options.processes, 'baseline npm ci', 'npm', ['ci', '--no-audit', '--no-fund'], root);
    dependencies = 'npm ci';
  }
  options.log(`baseline ${shortCommit}: building in ${root}`);
  await runOrThrow(options.processes, 'baseline build', process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], root);
  const buildSeconds = (performance.now() - startedAt) / 1000;
  options.log(`baseline ${shortCommit}: built in ${buildSeconds.toFixed(0)} s (node_modules ${dependencies})`);
  return { requested: options.revision, commit, shortCommit, root, dependencies, buildSeconds };
}

/** True when the revision's package-lock.json is this checkout's (working tree) byte for byte. */
function sameLockFile(repositoryRoot: string, commit: string): boolean {
  try {
    execFileSync('git', ['diff', '--quiet', commit, '--', 'package-lock.json'], { cwd: repositoryRoot, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function runOrThrow(processes: ChildProcessGroup, name: string, command: string, args: readonly string[], cwd: string): Promise<void> {
  const { code, stdout, stderr } = await processes.run({ name, command, args, cwd });
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${`${stdout}\n${stderr}`.trim().slice(-4000)}`);
}
