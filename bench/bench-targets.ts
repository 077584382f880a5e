// What is measured against: every target forwards to the same fake upstream (or is it, for `direct`).
// Adding a target — another proxy, or Tokengate configured differently — is one entry in BENCH_TARGETS.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { ChildProcessGroup, ManagedChild } from './child-processes';
import { COMPLETION_ID, STREAM_ID, UPSTREAM_DELAY_HEADER, UPSTREAM_PATH } from './fake-upstream';
import { freePort } from './host-tools';
import { findNginx, writeNginxConfig } from './nginx-reverse-proxy';
import { portkeyEntryPoint } from './portkey-gateway';
import { proxyProfileFlags, type RateLimitInput, type TokengateStack } from './tokengate-stack';

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
  /**
   * A peer measured for comparison: when it fails to start, the run goes on without it (skipped, with
   * the error as the reason) instead of stopping. Tokengate and the references it is judged by are not.
   */
  readonly skipWhenStartFails?: boolean;
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
      args: [...proxyProfileFlags(), path.join(context.scriptsDir, 'passthrough-proxy.js'), '--upstream', context.upstream.origin],
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

/** Environment variables Portkey would act on that must not leak into the benchmark from the shell. */
const PORTKEY_IGNORED_ENVIRONMENT = [
  'REDIS_CONNECTION_STRING', // would turn on its Redis cache
  'TRUSTED_CUSTOM_HOSTS', // replaces the default list that admits 127.0.0.1 as a custom host
  'HTTP_PROXY',
  'HTTPS_PROXY',
];

/**
 * Portkey, the open-source AI gateway (`@portkey-ai/gateway`), routed to the fake upstream as its docs
 * show for an OpenAI-compatible host: `x-portkey-provider: openai` and `x-portkey-custom-host`. It has
 * no keys of its own in this mode: the app sends the provider key (`Authorization`), Portkey passes it
 * on. The case's upstream delay header reaches the fake only when named in `x-portkey-forward-headers`
 * (Portkey builds the upstream request's headers itself). What it does per request: bench/README.md.
 */
export const portkeyTarget: BenchTarget = {
  id: 'portkey',
  description:
    'Portkey AI gateway 1.15.2 (@portkey-ai/gateway, Node, --headless): provider openai, custom host = the fake upstream, the app sends the upstream key; request rebuilt from its parameter map, JSON answers parsed and re-serialized, gzip decoded',
  skipWhenStartFails: true,
  unavailableReason: () => (portkeyEntryPoint() === null ? '@portkey-ai/gateway is not installed (a devDependency: run npm ci)' : null),
  async start(context) {
    const port = await freePort();
    const env = { ...process.env };
    for (const name of PORTKEY_IGNORED_ENVIRONMENT) delete env[name];
    const child = context.processes.start({ name: 'portkey', command: process.execPath, args: [path.join(context.scriptsDir, 'portkey-gateway.js'), '--port', String(port)], env, ipc: true });
    const endpoint: TargetEndpoint = {
      chatCompletionsUrl: `http://127.0.0.1:${port}/v1/chat/completions`,
      headers: {
        authorization: `Bearer ${context.upstream.apiKey}`,
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': `${context.upstream.origin}/v1`,
        'x-portkey-forward-headers': UPSTREAM_DELAY_HEADER,
      },
      processNames: [child.name],
    };
    try {
      await waitUntilAnswering(endpoint.chatCompletionsUrl, endpoint.headers, child);
      context.log(`portkey: ${await checkAnswersFromFakeUpstream(endpoint)}`);
    } catch (error) {
      child.child.kill('SIGKILL');
      throw error;
    }
    return endpoint;
  },
};

/**
 * One JSON, one SSE and one gzip-accepting request through a gateway: each must be a 2xx carrying the
 * fake upstream's own ids (a gateway that answered by itself, or from elsewhere, fails). Says what a
 * client accepting gzip got back.
 */
export async function checkAnswersFromFakeUpstream(endpoint: TargetEndpoint): Promise<string> {
  const post = async (body: object, headers: Record<string, string>): Promise<{ response: Response; text: string }> => {
    const response = await fetch(endpoint.chatCompletionsUrl, { method: 'POST', headers: { ...endpoint.headers, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${endpoint.chatCompletionsUrl} answered HTTP ${response.status}: ${text.slice(0, 300)}`);
    return { response, text };
  };
  const request = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] };
  // fetch() asks for gzip unless told otherwise; `identity` is what a client without Accept-Encoding gets.
  const json = await post(request, { 'accept-encoding': 'identity' });
  if (!json.text.includes(COMPLETION_ID)) throw new Error(`JSON answer is not the fake upstream's: ${json.text.slice(0, 300)}`);
  const sse = await post({ ...request, stream: true }, {});
  if (!sse.text.includes(STREAM_ID) || !sse.text.trimEnd().endsWith('data: [DONE]')) throw new Error(`SSE answer is not the fake upstream's stream: ${sse.text.slice(0, 300)}`);
  const gzip = await post(request, { 'accept-encoding': 'gzip, deflate' });
  if (!gzip.text.includes(COMPLETION_ID)) throw new Error(`answer to accept-encoding gzip is not the fake upstream's: ${gzip.text.slice(0, 300)}`);
  const encoding = gzip.response.headers.get('content-encoding');
  return `JSON, SSE and gzip-accepting requests answered by the fake upstream; a client accepting gzip gets ${encoding === null ? 'an identity body (the gateway decoded the upstream\'s gzip)' : `content-encoding: ${encoding}`}`;
}

export interface TokengateTargetOptions {
  readonly id: string;
  readonly description: string;
  /** Context path of the service this target registers (unique per target). */
  readonly contextPath: string;
  readonly rateLimit?: RateLimitInput;
  readonly connectionQuota?: RateLimitInput;
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
        connectionQuota: options.connectionQuota,
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
  portkeyTarget,
  tokengateTarget({ id: 'tokengate', description: 'tokengate data-plane, auth on (consumer key → provider key), no rate limit (still metered: every request and response observed for usage), access log off', contextPath: '/openai' }),
  // Budget far from exhausted: the common case (upper-bound reservation in Redis, no tokenization, usage read from the response).
  tokengateTarget({
    id: 'tokengate-limits',
    description: 'the same proxy with token budgets on (Redis), far from exhausted',
    contextPath: '/openai-limited',
    rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 2_000_000_000 },
  }),
  // Issue 13: a connection quota under the service budget, both reserved and settled in the same script.
  tokengateTarget({
    id: 'tokengate-quota',
    description: 'budgets on with a connection quota under the service budget (both in one Redis script), far from exhausted',
    contextPath: '/openai-quota',
    rateLimit: { timeUnit: 'MINUTE', maxTotalTokens: 2_000_000_000 },
    connectionQuota: { timeUnit: 'HOUR', maxTotalTokens: 2_000_000_000 },
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
