// The scale benchmark's only door into Tokengate's internals (`npm run bench:scale`): a simulated
// proxy is the data plane's own startDataPlane() (config stream client, snapshot compiler, holder)
// with rate limiting off, and consumer keys are made and hashed with the control plane's own
// functions. When the config stream protocol or these modules change, this file is the one to adapt.
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { generateToken, hashToken } from '../control-plane/src/common/secure-token';
import { type DataPlaneHandle, startDataPlane } from '../data-plane/src/main';

/** What ConnectionService.issueKey() prefixes a consumer key with (`CONSUMER_KEY_PREFIX`). */
const CONSUMER_KEY_PREFIX = 'tgk_';

/** A consumer key as createConnection issues it: the key (shown once), its stored hash and prefix. */
export interface IssuedKey {
  readonly apiKey: string;
  readonly keyHash: string;
  readonly keyPrefix: string;
}

export function issueConsumerKey(): IssuedKey {
  const apiKey = generateToken(CONSUMER_KEY_PREFIX);
  return { apiKey, keyHash: hashToken(apiKey), keyPrefix: apiKey.slice(0, 12) };
}

/** Wall-clock milliseconds with sub-ms precision, comparable across processes of one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One applied snapshot, as far as the benchmark looks at it. Keeps the snapshot alive while held. */
export interface AppliedSnapshotView {
  readonly revision: bigint;
  readonly consumerKeys: number;
  /** True when a request with this consumer key would be authenticated. */
  holds(apiKey: string): boolean;
}

export interface SimulatedProxy {
  readonly proxyId: string;
  readonly environment: string;
  /** The snapshot being served, null before the first one. */
  current(): AppliedSnapshotView | null;
  /** Called right after each swap (compile done) with epochMs() of that moment; returns an unsubscribe. */
  onApplied(listener: (atMs: number, snapshot: AppliedSnapshotView) => void): () => void;
  /** epochMs() of the first message received on the current stream (the full snapshot, decoded); null before. */
  readonly connectedAtMs: number | null;
  close(): Promise<void>;
}

export interface SimulatedProxyOptions {
  readonly environment: string;
  /** host:port of the control plane's gRPC config service. */
  readonly controlPlaneAddress: string;
  readonly dataPlaneToken: string;
  readonly proxyId: string;
}

function view(handle: DataPlaneHandle): AppliedSnapshotView | null {
  const snapshot = handle.holder.current;
  if (snapshot === null) return null;
  return { revision: snapshot.revision, consumerKeys: snapshot.consumerKeys.size, holds: (apiKey) => snapshot.consumerKeys.lookup(apiKey) !== undefined };
}

/** A data-plane proxy without budgets (no Redis) on a free port, subscribed to the config stream. */
export async function startSimulatedProxy(options: SimulatedProxyOptions): Promise<SimulatedProxy> {
  let connectedAtMs: number | null = null;
  const handle = await startDataPlane({
    environment: options.environment,
    controlPlane: { address: options.controlPlaneAddress, token: options.dataPlaneToken },
    host: '127.0.0.1',
    port: 0,
    proxyId: options.proxyId,
    logger: pino({ level: 'silent' }),
    rateLimiting: null,
    shutdownGraceMs: 0,
    onConfigStreamEvent: (event) => {
      if (event.type === 'connected') connectedAtMs = epochMs();
    },
  });
  return {
    proxyId: options.proxyId,
    environment: options.environment,
    current: () => view(handle),
    onApplied: (listener) =>
      handle.holder.onSwap((snapshot) => {
        const at = epochMs();
        listener(at, { revision: snapshot.revision, consumerKeys: snapshot.consumerKeys.size, holds: (apiKey) => snapshot.consumerKeys.lookup(apiKey) !== undefined });
      }),
    get connectedAtMs() {
      return connectedAtMs;
    },
    close: () => handle.close(),
  };
}
