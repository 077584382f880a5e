// What is measured against: every target forwards to the same fake upstream (or is it, for `direct`).
// Adding a target — another proxy, or Tokengate configured differently — is one entry in BENCH_TARGETS.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ChildProcessGroup, ManagedChild } from './child-processes';
import { UPSTREAM_PATH } from './fake-upstream';
import { freePort } from './host-tools';
import { findNginx, writeNginxConfig } from './nginx-reverse-proxy';
import type { RateLimitInput, TokengateStack } from './tokengate-stack';

export interface FakeUpstreamEndpoint {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly host: string;
  readonly port: number;
  /** What the upstream requires in `Authorization: Bearer`; the gateway must inject it. */
  readonly apiKey: string;
}

export interface TargetContext {
  readonly processes: ChildProcessGroup;
  readonly upstream: FakeUpstreamEndpoint;
  /** Directory of compiled bench scripts (dist/bench). */
  readonly scriptsDir: string;
  /** Temporary directory of this run, removed at exit. */
  readonly workDir: string;
  /**
   * A Tokengate control plane, started on first use and shared by the Tokengate targets of the same
   * build: `current` is this checkout's dist/, `baseline` the BENCH_BASELINE revision built beside it
   * (its own database and Redis namespace, so the two stacks share nothing but the fake upstream).
   */
  tokengate(build: TokengateBuild): Promise<TokengateStack>;
  log(message: string): void;
}

/** Which Tokengate a target runs. */
export type TokengateBuild = 'current' | 'baseline';

/** What decides whether a target can run (a subset of BenchConfig). */
export interface TargetSettings {
  /** BENCH_BASELINE; null = the baseline targets are skipped. */
  readonly baselineRevision: string | null;
}

export interface TargetEndpoint {
  /** Full URL of the OpenAI chat completions operation through this target. */
  readonly chatCompletionsUrl: string;
  /** Credentials the app sends to this target (the upstream key, or a Tokengate consumer key). */
  readonly headers: Readonly<Record<string, string>>;
  /** Names of the ChildProcessGroup processes doing this target's work (for CPU figures). */
  readonly processNames: readonly string[];
}

export interface BenchTarget {
  /** Stable name, used in BENCH_TARGETS, the result JSON and goals. */
  readonly id: string;
  readonly description: string;
  /** Null when the target can run on this machine with these settings, else why it is skipped. */
  unavailableReason(settings: TargetSettings): string | null;
  start(context: TargetContext): Promise<TargetEndpoint>;
}

function readyLine(line: string): number | undefined {
  try {
    const message = JSON.parse(line) as { listening?: unknown };
    return typeof message.listening === 'number' ? message.listening : undefined;
  } catch {
    return undefined;
  }
}

const directTarget: BenchTarget = {
  id: 'direct',
  description: 'the fake upstream itself, no proxy',
  unavailableReason: () => null,
  start: (context) =>
    Promise.resolve({ chatCompletionsUrl: `${context.upstream.origin}${UPSTREAM_PATH}`, headers: { authorization: `Bearer ${context.upstream.apiKey}` }, processNames: [] }),
};

const passthroughTarget: BenchTarget = {
  id: 'passthrough',
  description: 'bench/passthrough-proxy.ts: node:http + keep-alive agent, pipe both ways (the floor of one Node process)',
  unavailableReason: () => null,
  async start(context) {
    const child = context.processes.start({
      name: 'passthrough proxy',
      command: process.execPath,
      args: [path.join(context.scriptsDir, 'passthrough-proxy.js'), '--upstream', context.upstream.origin],
      ipc: true,
    });
    const port = await child.waitForLine(readyLine, 10_000);
    return { chatCompletionsUrl: `http://127.0.0.1:${port}${UPSTREAM_PATH}`, headers: { authorization: `Bearer ${context.upstream.apiKey}` }, processNames: [child.name] };
  },
};

export function nginxTarget(options: { id: string; workerProcesses: number }): BenchTarget {
  return {
    id: options.id,
    description: `nginx reverse proxy, ${options.workerProcesses} worker(s), upstream keep-alive, no buffering`,
    unavailableReason: () => (findNginx() === null ? 'nginx is not installed (Debian: apt-get install nginx-light)' : null),
    async start(context) {
      const nginx = findNginx();
      if (nginx === null) throw new Error('nginx is not installed');
      const directory = path.join(context.workDir, options.id);
      await mkdir(directory, { recursive: true });
      const listenPort = await freePort();
      const config = await writeNginxConfig({ directory, listenPort, upstreamHost: context.upstream.host, upstreamPort: context.upstream.port, workerProcesses: options.workerProcesses });
      const child = context.processes.start({ name: options.id, command: nginx, args: ['-e', 'stderr', '-p', directory, '-c', config] });
      const url = `http://127.0.0.1:${listenPort}${UPSTREAM_PATH}`;
      await waitUntilAnswering(url, { authorization: `Bearer ${context.upstream.apiKey}` }, child);
      return { chatCompletionsUrl: url, headers: { authorization: `Bearer ${context.upstream.apiKey}` }, processNames: [child.name] };
    },
  };
}

export interface TokengateTargetOptions {
  readonly id: string;
  readonly description: string;
  /** Context path of the service this target registers (unique per target). */
  readonly contextPath: string;
  readonly rateLimit?: RateLimitInput;
  /** Extra `tokengate data-plane` flags; targets with the same build and flags share one proxy process. */
  readonly proxyFlags?: readonly string[];
  /** Default `current`; `baseline` runs only when BENCH_BASELINE is set. */
  readonly build?: TokengateBuild;
}

/** A Tokengate proxy with auth on: its own registered service, a real consumer key, the upstream key injected. */
export function tokengateTarget(options: TokengateTargetOptions): BenchTarget {
  return {
    id: options.id,
    description: options.description,
    unavailableReason: (settings) =>
      options.build === 'baseline' && settings.baselineRevision === null
        ? 'opt-in: set BENCH_BASELINE=<git revision> (e.g. BENCH_BASELINE=9bb431f) to run the same stack built from that revision'
        : null,
    async start(context) {
      const stack = await context.tokengate(options.build ?? 'current');
      const service = await stack.registerService({
        contextPath: options.contextPath,
        serviceUrl: `${context.upstream.origin}/v1`,
        providerApiKey: context.upstream.apiKey,
        rateLimit: options.rateLimit,
      });
      const proxy = await stack.proxy(options.proxyFlags);
      const endpoint = { chatCompletionsUrl: `${service.endpoint(proxy.url)}/chat/completions`, headers: { authorization: `Bearer ${service.consumerKey}` }, processNames: [proxy.processName] };
      // The key works once the proxy has applied the snapshot that holds it.
      await waitUntilAnswering(endpoint.chatCompletionsUrl, endpoint.headers, null);
      return endpoint;
    },
  };
}

/** Polls with a real request until it gets a 2xx (at most 30 s). */
async function waitUntilAnswering(url: string, headers: Readonly<Record<string, string>>, server: ManagedChild | null): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  for (;;) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"model":"gpt-4o-mini","messages":[]}' });
      last = `HTTP ${response.status} ${(await response.text()).slice(0, 200)}`;
      if (response.ok) return;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (server !== null && !server.isRunning()) throw new Error(`${server.name} exited; its output:\n${server.outputTail()}`);
    if (Date.now() > deadline) throw new Error(`${url} does not answer 2xx after 30 s (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const BENCH_TARGETS: readonly BenchTarget[] = [
  directTarget,
  passthroughTarget,
  nginxTarget({ id: 'nginx', workerProcesses: 1 }),
  tokengateTarget({ id: 'tokengate', description: 'tokengate data-plane, auth on (consumer key → provider key), no rate limit (still metered: every request and response observed for usage), access log off', contextPath: '/openai' }),
  // Budget far from exhausted: the common case (upper-bound reservation in Redis, no tokenization, usage read from the response).
  tokengateTarget({
    id: 'tokengate-limits',
    description: 'the same proxy with token budgets on (Redis), far from exhausted',
    contextPath: '/openai-limited',
    rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 2_000_000_000 },
  }),
  // The same two services on the BENCH_BASELINE revision (opt-in): what a change of Tokengate costs,
  // measured in the same run, against the same upstream, in the same interleaved rounds.
  tokengateTarget({
    id: 'tokengate-baseline',
    description: 'tokengate of the BENCH_BASELINE revision, configured as `tokengate`',
    contextPath: '/openai',
    build: 'baseline',
  }),
  tokengateTarget({
    id: 'tokengate-limits-baseline',
    description: 'tokengate of the BENCH_BASELINE revision, configured as `tokengate-limits`',
    contextPath: '/openai-limited',
    rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 2_000_000_000 },
    build: 'baseline',
  }),
];

/** Each `*-baseline` target with the target it is the baseline of, e.g. `tokengate` → `tokengate-baseline`. */
export const BASELINE_PAIRS: ReadonlyArray<{ readonly targetId: string; readonly baselineId: string }> = BENCH_TARGETS.filter((t) => t.id.endsWith('-baseline'))
  .map((t) => ({ targetId: t.id.slice(0, -'-baseline'.length), baselineId: t.id }))
  .filter((pair) => BENCH_TARGETS.some((t) => t.id === pair.targetId));
