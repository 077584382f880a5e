// Serves tokengate.v1.ConfigService/StreamConfig: a full snapshot of the proxy's environment after its
// Hello, then, whenever that environment's revision moves, one delta from what the stream was last
// sent (or a full snapshot for older proxies, after a SnapshotRequest, or when the gap is too large);
// records ACKs and NACKs. Each stream has at most one config message in flight: changes arriving
// while it is being flushed are coalesced into the next one, so a slow proxy never queues stale ones.
import { DataPlaneStore, DEFAULT_PROXY_LIVENESS_MS } from '../data-plane-registry/data-plane-store';
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { SecretBox } from '../secrets/secret-box';
import type { UsageService } from '../usage/usage.service';
import { AppliedRevisions } from './applied-revisions';
import { EncodedControlPlaneMessage, loadConfigServiceContract } from './config-proto';
import { buildDelta, buildSnapshot, DEFAULT_DELTA_LIMITS, type DeltaLimits, trimChangeLog } from './snapshot-builder';
import { encodeSnapshotPages } from './snapshot-encoder';
import type { ControlPlaneMessage, DataPlaneMessage } from './snapshot.types';
import { usageRecordInput } from './usage-record-message';
import { WriteBudget } from './write-budget';
import { listenError } from '../common/config-error';
import { isDatabaseUnavailable } from '../graphql/database-unavailable';

type ProxyCall = ServerDuplexStream<DataPlaneMessage, ControlPlaneMessage | EncodedControlPlaneMessage>;

/** What the config messages being flushed to proxies may hold at once (grpc-js frames a copy per stream). */
export const DEFAULT_MAX_UNFLUSHED_CONFIG_BYTES = 64 * 1024 * 1024;
/** How long one unflushed write may hold its share of that budget (a healthy proxy takes well under a second). */
const WRITE_BUDGET_HOLD_MS = 5_000;

interface ProxyStream {
  call: ProxyCall;
  proxyId: string;
  /** The per-environment credential the proxy presented; null: the installation-wide token (or development mode). */
  credentialId: string | null;
  environment: string;
  environmentId: string;
  /** The proxy's Hello set accepts_deltas; otherwise every change is sent as a full snapshot. */
  acceptsDeltas: boolean;
  /** Revision the proxy holds once it applies what it was sent (its Hello's revision at first). */
  sentRevision: number;
  /** The next config message must be a full snapshot (first one, or the proxy asked for it). */
  needsSnapshot: boolean;
  /**
   * Revision of the last full snapshot written to this stream (0: none yet). A NACK of another
   * revision refused a delta: the proxy asks for a full snapshot next, and its answer to that is what
   * the rollout reads (a refusal recorded before it would fail a revision the proxy goes on to apply).
   */
  snapshotRevision: number;
  /** A config message is being flushed to this proxy; newer changes wait for it and are coalesced. */
  writing: boolean;
  /**
   * Sent a config message since its Hello. Every Hello is answered, even by a proxy already at the
   * current revision (an empty delta then): the answer is how the proxy knows it is connected, and
   * until then it holds back its usage batches.
   */
  answered: boolean;
  /** Gives back the write budget of the message being flushed (set while one is). */
  releaseWrite?: () => void;
}

/** A snapshot encoded once per revision and environment, then written to every stream that needs it. */
interface CachedSnapshot {
  revision: number;
  message: EncodedControlPlaneMessage;
}

export interface ConfigStreamTls {
  certFile: string;
  keyFile: string;
  /** When set, proxies must present a client certificate signed by this CA. */
  clientCaFile?: string;
}

/** Per-environment credentials (data-plane-registry/data-plane-credential.service.ts). */
export interface DataPlaneCredentials {
  authenticate(token: string): Promise<{ credentialId: string; environment: string } | null>;
  /** Of `ids`, those still live. */
  live(ids: readonly string[]): Promise<Set<string>>;
}

export interface ConfigStreamOptions {
  /**
   * The installation-wide token: opens every environment. Undefined: only per-environment
   * credentials are accepted — or, when `credentials` is absent too, anything (development mode).
   */
  dataPlaneToken: string | undefined;
  /** A proxy presenting one of these gets its environment's configuration and no other. */
  credentials?: DataPlaneCredentials;
  /** Without `dataPlaneToken`, accept proxies presenting nothing valid (development mode only). */
  allowAnonymous?: boolean;
  /** Safety net behind pub/sub: how often revisions are compared with what each stream was sent. */
  pollIntervalMs?: number;
  tls?: ConfigStreamTls;
  /** Told after an ACK or NACK is recorded (rollouts waiting on that environment look again). */
  onProxyReport?: (environment: string) => void;
  /** When a proxy gets a full snapshot instead of a delta. */
  deltaLimits?: DeltaLimits;
  /** Bytes of config messages written to streams and not yet flushed, across all of them. Default 64 MiB. */
  maxUnflushedConfigBytes?: number;
  /** How often the change log is trimmed to `deltaLimits.maxRevisions` per environment. Default 60 s. */
  trimIntervalMs?: number;
  /**
   * How often this replica renews the liveness of the proxies whose streams it holds; each renewal
   * vouches for three intervals (data-plane-store.ts). Default: a third of DEFAULT_PROXY_LIVENESS_MS.
   */
  heartbeatIntervalMs?: number;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Who opened a stream: the environment its credential is bound to, or null for any. */
interface StreamPrincipal {
  readonly environment: string | null;
  readonly credentialId: string | null;
}

/**
 * Ends a stream with `code`: the proxy was refused (credential, environment) or broke the protocol
 * (INVALID_ARGUMENT). Any other error while handling a message is the control plane's own failure —
 * mostly PostgreSQL unreachable — and ends the stream with UNAVAILABLE: the proxy reconnects and
 * re-sends what was not acknowledged, and nothing it sent was wrong.
 */
class StreamRefusal extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

/** What a failed message was, for the log and the UNAVAILABLE details. */
function messageKind(message: DataPlaneMessage): string {
  if (message.usage) return `usage batch ${message.usage.batch_id}`;
  if (message.hello) return 'the Hello (proxy registration)';
  if (message.ack) return `the ACK of revision ${message.ack.revision}`;
  if (message.nack) return `the NACK of revision ${message.nack.revision}`;
  return 'a message';
}

export class ConfigStreamServer {
  private readonly server = new Server({ 'grpc.keepalive_time_ms': 20_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.keepalive_permit_without_calls': 1 });
  private readonly streams = new Map<string, Set<ProxyStream>>();
  /** Environments with a sync running, and whether another was requested meanwhile (coalescing). */
  private readonly syncing = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly snapshots = new Map<string, CachedSnapshot>();
  private readonly buildingSnapshots = new Map<string, Promise<CachedSnapshot | null>>();
  private readonly contract = loadConfigServiceContract();
  private readonly expectedToken: Buffer | null;
  private readonly deltaLimits: DeltaLimits;
  private readonly dataPlanes: DataPlaneStore;
  /** ACKs, recorded in batches (applied-revisions.ts). */
  private readonly acks: AppliedRevisions;
  private readonly writeBudget: WriteBudget;
  private poller: NodeJS.Timeout | undefined;
  private trimmer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly heartbeatIntervalMs: number;
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    private readonly options: ConfigStreamOptions,
    private readonly usage: UsageService,
  ) {
    this.expectedToken = options.dataPlaneToken ? digest(options.dataPlaneToken) : null;
    this.deltaLimits = options.deltaLimits ?? DEFAULT_DELTA_LIMITS;
    this.writeBudget = new WriteBudget(options.maxUnflushedConfigBytes ?? DEFAULT_MAX_UNFLUSHED_CONFIG_BYTES);
    this.heartbeatIntervalMs = Math.max(1, options.heartbeatIntervalMs ?? Math.floor(DEFAULT_PROXY_LIVENESS_MS / 3));
    this.dataPlanes = new DataPlaneStore(db, 3 * this.heartbeatIntervalMs);
    this.acks = new AppliedRevisions(this.dataPlanes, (environment) => this.options.onProxyReport?.(environment));
    this.server.addService(this.contract.service.service, { streamConfig: (call: ProxyCall) => this.accept(call) });
  }

  async listen(host: string, port: number): Promise<number> {
    const credentials = this.options.tls
      ? ServerCredentials.createSsl(
          this.options.tls.clientCaFile ? readFileSync(this.options.tls.clientCaFile) : null,
          [{ cert_chain: readFileSync(this.options.tls.certFile), private_key: readFileSync(this.options.tls.keyFile) }],
          Boolean(this.options.tls.clientCaFile),
        )
      : ServerCredentials.createInsecure();
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host}:${port}`, credentials, (error, p) => (error ? reject(listenError(error, 'the gRPC config service', `${host}:${port}`, 'TOKENGATE_GRPC_PORT')) : resolve(p))),
    );
    const interval = this.options.pollIntervalMs ?? 5000;
    if (interval > 0) {
      this.poller = setInterval(() => void this.poll(), interval);
      this.poller.unref();
    }
    this.heartbeat = setInterval(() => void this.vouchForStreams(), this.heartbeatIntervalMs);
    this.heartbeat.unref();
    const trimInterval = this.options.trimIntervalMs ?? 60_000;
    if (trimInterval > 0) {
      this.trimmer = setInterval(() => void this.trim(), trimInterval);
      this.trimmer.unref();
    }
    return bound;
  }

  /** A change committed (here or on another replica): bring the environment's proxies up to its new revision. */
  environmentChanged(environment: string): void {
    if (this.streams.get(environment)?.size) void this.sync(environment);
  }

  connectedProxies(environment?: string): Array<{ proxyId: string; environment: string; lastSentRevision: number }> {
    const result = [];
    for (const [env, set] of this.streams) {
      if (environment && env !== environment) continue;
      for (const s of set) result.push({ proxyId: s.proxyId, environment: env, lastSentRevision: s.sentRevision });
    }
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    if (this.trimmer) clearInterval(this.trimmer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const open = [...this.streams.values()].flatMap((set) => [...set]);
    for (const stream of open) stream.call.end();
    await Promise.all([...this.syncing.values()].map((r) => r.done));
    await Promise.allSettled([...this.buildingSnapshots.values()]);
    await Promise.all(open.map((s) => this.markDisconnected(s)));
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }

  /** Who the call's bearer token lets in; throws UNAUTHENTICATED when nobody. */
  private async authorize(call: ProxyCall): Promise<StreamPrincipal> {
    const header = call.metadata.get('authorization')[0];
    const token = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header)?.[1] : undefined;
    if (token !== undefined && this.expectedToken !== null && timingSafeEqual(digest(token), this.expectedToken)) return { environment: null, credentialId: null };
    const credential = token === undefined ? null : ((await this.options.credentials?.authenticate(token)) ?? null);
    if (credential !== null) return { environment: credential.environment, credentialId: credential.credentialId };
    // Development mode without an installation token: anyone (a one-machine setup).
    if (this.expectedToken === null && this.options.allowAnonymous === true) return { environment: null, credentialId: null };
    throw new StreamRefusal(status.UNAUTHENTICATED, 'invalid data-plane token: present a credential of your environment (issueDataPlaneCredential) or TOKENGATE_DATAPLANE_TOKEN');
  }

  /** A revoked credential (here or, found by the poll, on another replica): its streams end now. */
  credentialRevoked(credentialId: string): void {
    for (const set of this.streams.values()) {
      for (const stream of set) {
        if (stream.credentialId !== credentialId) continue;
        this.logger.warn({ proxyId: stream.proxyId, environment: stream.environment }, 'data-plane credential revoked: closing its config stream');
        set.delete(stream);
        stream.call.emit('error', { code: status.UNAUTHENTICATED, details: 'data-plane credential revoked' });
        void this.markDisconnected(stream);
      }
    }
  }

  private accept(call: ProxyCall): void {
    let stream: ProxyStream | undefined;
    let principal: StreamPrincipal | undefined;
    // Messages of one stream are handled in order, after the caller is authorized: an ACK is never
    // recorded before its Hello, and nothing before the credential is checked.
    let refused = false;
    let queue: Promise<void> = this.authorize(call).then(
      (who) => {
        principal = who;
      },
      (error: unknown) => {
        refused = true;
        const details = error instanceof Error ? error.message : String(error);
        this.logger.warn({ err: details }, 'refusing a config stream');
        call.emit('error', { code: error instanceof StreamRefusal ? error.code : status.UNAUTHENTICATED, details });
      },
    );
    call.on('data', (message: DataPlaneMessage) => {
      queue = queue
        .then(async () => {
          if (refused) return;
          if (message.hello) {
            if (stream) throw new StreamRefusal(status.INVALID_ARGUMENT, 'a second Hello on one stream');
            if (principal?.environment != null && principal.environment !== message.hello.environment) {
              throw new StreamRefusal(status.PERMISSION_DENIED, `this data-plane credential is for environment "${principal.environment}", not "${message.hello.environment}"`);
            }
            stream = await this.hello(call, message.hello, principal?.credentialId ?? null);
          } else if (!stream) {
            throw new StreamRefusal(status.INVALID_ARGUMENT, 'the first message of a stream must be Hello');
          } else if (message.ack) {
            // Batched with other proxies' ACKs; resolves once stored (and onProxyReport was told).
            await this.acks.record(stream.proxyId, stream.environment, Number(message.ack.revision));
          } else if (message.usage) {
            const batch = message.usage;
            await this.usage.recordBatch(stream.environmentId, batch.batch_id, (batch.records ?? []).map(usageRecordInput));
            // Acknowledged whether new or a re-send: either way it is stored exactly once.
            call.write({ usage_ack: { batch_id: batch.batch_id } } satisfies ControlPlaneMessage);
          } else if (message.nack) {
            const current = stream;
            if (current.acceptsDeltas && Number(message.nack.revision) !== current.snapshotRevision) {
              this.logger.warn({ proxyId: current.proxyId, environment: current.environment, revision: message.nack.revision, reason: message.nack.reason }, 'proxy refused a delta; its answer to the full snapshot it asks for decides');
              return;
            }
            this.logger.warn({ proxyId: current.proxyId, environment: current.environment, revision: message.nack.revision, reason: message.nack.reason }, 'proxy refused a snapshot');
            await this.dataPlanes.refused(current.proxyId, message.nack.revision, message.nack.reason);
            this.options.onProxyReport?.(current.environment);
          } else if (message.resync) {
            const current = stream;
            this.logger.info({ proxyId: current.proxyId, environment: current.environment, appliedRevision: message.resync.applied_revision, reason: message.resync.reason }, 'proxy asked for a full snapshot');
            current.needsSnapshot = true;
            void this.sync(current.environment);
          }
        })
        .catch((error: unknown) => {
          if (error instanceof StreamRefusal) {
            this.logger.warn({ proxyId: stream?.proxyId, err: error.message }, 'closing config stream');
            call.emit('error', { code: error.code, details: error.message });
            return;
          }
          // The driver's text is logged here, not sent: the proxy only needs to know it may retry.
          const what = messageKind(message);
          this.logger.error({ proxyId: stream?.proxyId, err: error instanceof Error ? error.message : String(error), databaseUnavailable: isDatabaseUnavailable(error) }, `could not store ${what}: closing config stream (the proxy retries)`);
          call.emit('error', { code: status.UNAVAILABLE, details: `the control plane could not store ${what}; retry shortly` });
        });
    });
    const close = () => {
      if (!stream) return;
      const closing = stream;
      stream = undefined;
      closing.releaseWrite?.();
      this.streams.get(closing.environment)?.delete(closing);
      void queue.then(() => this.markDisconnected(closing));
    };
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('cancelled', close);
    call.on('error', close);
  }

  private async hello(call: ProxyCall, hello: NonNullable<DataPlaneMessage['hello']>, credentialId: string | null): Promise<ProxyStream> {
    const proxyId = hello.proxy_id.trim();
    if (!proxyId || proxyId.length > 200) throw new StreamRefusal(status.INVALID_ARGUMENT, 'Hello needs a proxy_id of 1-200 characters');
    const envRows: Array<{ id: string }> = await this.db.query('SELECT id FROM environments WHERE handle = $1', [hello.environment]);
    if (envRows.length === 0) throw new StreamRefusal(status.INVALID_ARGUMENT, `unknown environment "${hello.environment}"`);
    const lastApplied = Number(hello.last_applied_revision);
    await this.dataPlanes.connected(proxyId, envRows[0].id, hello.version, hello.last_applied_revision);
    this.options.onProxyReport?.(hello.environment);
    const stream: ProxyStream = {
      call,
      proxyId,
      credentialId,
      environment: hello.environment,
      environmentId: envRows[0].id,
      acceptsDeltas: hello.accepts_deltas,
      sentRevision: lastApplied,
      // A proxy that holds nothing gets a snapshot; one that holds revision R gets a delta from R
      // (or a snapshot when the log no longer reaches back to R), and nothing while R is current.
      needsSnapshot: lastApplied === 0,
      snapshotRevision: 0,
      writing: false,
      // Proxies without deltas at the current revision are sent nothing until it moves (as ever).
      answered: !hello.accepts_deltas,
    };
    const set = this.streams.get(stream.environment) ?? new Set();
    set.add(stream);
    this.streams.set(stream.environment, set);
    this.logger.info({ proxyId, environment: stream.environment, version: hello.version, lastAppliedRevision: lastApplied, acceptsDeltas: hello.accepts_deltas }, 'proxy connected');
    void this.sync(stream.environment);
    return stream;
  }

  private async markDisconnected(stream: ProxyStream): Promise<void> {
    const stillOpen = [...(this.streams.get(stream.environment) ?? [])].some((s) => s.proxyId === stream.proxyId);
    if (stillOpen) return;
    await this.dataPlanes.disconnected(stream.proxyId).catch((error: unknown) => {
      this.logger.warn({ err: String(error), proxyId: stream.proxyId }, 'could not record a proxy disconnect');
    });
    this.options.onProxyReport?.(stream.environment);
  }

  /**
   * Brings every idle stream of the environment up to its current revision. Calls arriving while a
   * sync runs are coalesced into one more sync afterwards; a stream whose previous message is still
   * being flushed is skipped and synced again once it is (so it gets one delta covering everything).
   */
  private sync(environment: string): Promise<void> {
    const running = this.syncing.get(environment);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      do {
        state.again = false;
        try {
          await this.syncOnce(environment);
        } catch (error) {
          this.logger.error({ environment, err: error instanceof Error ? error.message : String(error) }, 'could not bring proxies up to date');
        }
      } while (state.again && !this.stopped);
      this.syncing.delete(environment);
    })();
    this.syncing.set(environment, state);
    return state.done;
  }

  private async syncOnce(environment: string): Promise<void> {
    const idle = [...(this.streams.get(environment) ?? [])].filter((s) => !s.writing);
    if (idle.length === 0) return;
    const rows: Array<{ revision: string }> = await this.db.query('SELECT revision FROM environments WHERE handle = $1', [environment]);
    if (rows.length === 0) return;
    const revision = Number(rows[0].revision);
    const behind = idle.filter((s) => s.needsSnapshot || s.sentRevision < revision || !s.answered);
    if (behind.length === 0) return;
    // Streams at the same revision share one delta (usually all of them: one build per change).
    const byBase = new Map<number, ProxyStream[]>();
    const wantSnapshot: ProxyStream[] = [];
    for (const stream of behind) {
      if (stream.needsSnapshot || !stream.acceptsDeltas) wantSnapshot.push(stream);
      else if (stream.sentRevision >= revision) this.confirmCurrent(stream);
      else {
        const group = byBase.get(stream.sentRevision);
        if (group) group.push(stream);
        else byBase.set(stream.sentRevision, [stream]);
      }
    }
    for (const [base, streams] of byBase) {
      const delta = await buildDelta(this.db, this.box, environment, base, this.deltaLimits);
      if (delta === 'snapshot') {
        wantSnapshot.push(...streams);
      } else if (delta !== 'current') {
        const message = new EncodedControlPlaneMessage(this.contract.encodeResponse({ delta } satisfies ControlPlaneMessage));
        for (const stream of streams) this.writeConfig(stream, message, delta.revision);
      }
    }
    if (wantSnapshot.length > 0) this.sendSnapshot(environment, revision, wantSnapshot);
  }

  /**
   * Sends the environment's snapshot (at `revision` or newer) to `streams` once it is built, without
   * holding up the sync: deltas keep flowing to the other streams meanwhile. The streams count as busy
   * until then, so they are not sent anything else first.
   */
  private sendSnapshot(environment: string, revision: number, streams: ProxyStream[]): void {
    for (const stream of streams) stream.writing = true;
    const done = (snapshot: CachedSnapshot | null) => {
      for (const stream of streams) {
        stream.writing = false;
        // A proxy sent this revision meanwhile is not sent it again.
        if (!snapshot || (!stream.needsSnapshot && stream.answered && stream.sentRevision >= snapshot.revision)) continue;
        stream.snapshotRevision = snapshot.revision;
        this.writeConfig(stream, snapshot.message, snapshot.revision);
      }
      if (!this.stopped) void this.sync(environment);
    };
    this.snapshotAt(environment, revision).then(done, (error: unknown) => {
      this.logger.error({ environment, err: error instanceof Error ? error.message : String(error) }, 'could not build a snapshot');
      for (const stream of streams) stream.writing = false;
    });
  }

  /**
   * The environment's snapshot at `revision` or newer: built (and encoded) once, then shared by every
   * stream; concurrent callers share one build.
   */
  private snapshotAt(environment: string, revision: number): Promise<CachedSnapshot | null> {
    const cached = this.snapshots.get(environment);
    if (cached && cached.revision >= revision) return Promise.resolve(cached);
    const running = this.buildingSnapshots.get(environment);
    if (running) return running.then((built) => (built && built.revision >= revision ? built : this.snapshotAt(environment, revision)));
    const build = (async () => {
      // Read and encoded a page of keys at a time, yielding between slices: one synchronous encode of a
      // large environment would stall everything else for seconds, and its message objects are several
      // times the size of its bytes (only the encoded bytes are kept).
      const snapshot = await buildSnapshot(this.db, this.box, environment, (head, keyPages) => encodeSnapshotPages(head, keyPages, this.contract.encodeResponse));
      if (!snapshot) return null;
      const built = { revision: snapshot.revision, message: new EncodedControlPlaneMessage(snapshot.encoded) };
      this.snapshots.set(environment, built);
      return built;
    })().finally(() => this.buildingSnapshots.delete(environment));
    this.buildingSnapshots.set(environment, build);
    return build;
  }

  /** Answers the Hello of a proxy that already holds the current revision: an empty delta from and to it. */
  private confirmCurrent(stream: ProxyStream): void {
    const delta = { base_revision: stream.sentRevision, revision: stream.sentRevision, upserted_services: [], removed_service_ids: [], upserted_keys: [], removed_key_hashes: [] };
    this.writeConfig(stream, new EncodedControlPlaneMessage(this.contract.encodeResponse({ delta } satisfies ControlPlaneMessage)), stream.sentRevision);
  }

  /**
   * Writes one config message and marks the stream busy until gRPC has flushed it (write callback)
   * and, when write() reported a full buffer, until 'drain'. Then the environment is synced again, so
   * whatever changed meanwhile reaches this proxy as one message.
   */
  private writeConfig(stream: ProxyStream, message: EncodedControlPlaneMessage, revision: number): void {
    if (!stream.call.writable) return;
    stream.writing = true;
    stream.sentRevision = revision;
    stream.needsSnapshot = false;
    stream.answered = true;
    // Within the control plane's budget of unflushed config bytes (write-budget.ts): a stream whose
    // write waits for room stays busy meanwhile, so what changes in the meantime is coalesced.
    this.writeBudget.acquire(message.bytes.length, (releaseBudget) => {
      if (!stream.call.writable) {
        releaseBudget();
        stream.writing = false;
        return;
      }
      // The stream closing releases the budget too (a write cut off may never be flushed), and so does
      // a write still unflushed after WRITE_BUDGET_HOLD_MS: a proxy that stopped reading keeps its
      // message, but not the other proxies waiting.
      const hold = setTimeout(releaseBudget, WRITE_BUDGET_HOLD_MS);
      hold.unref();
      stream.releaseWrite = () => {
        clearTimeout(hold);
        releaseBudget();
      };
      let flushed = false;
      let drained = true;
      const release = () => {
        if (!flushed || !drained) return;
        stream.releaseWrite?.();
        stream.releaseWrite = undefined;
        if (!stream.writing) return;
        stream.writing = false;
        if (!this.stopped) void this.sync(stream.environment);
      };
      drained = stream.call.write(message, () => {
        flushed = true;
        release();
      });
      if (!drained) {
        stream.call.once('drain', () => {
          drained = true;
          release();
        });
      }
    });
  }

  private async poll(): Promise<void> {
    const environments = [...this.streams.keys()].filter((env) => this.streams.get(env)?.size);
    if (environments.length === 0 || this.stopped) return;
    try {
      // Credentials revoked through another replica: their streams here end too.
      const credentials = this.options.credentials;
      const presented = [...new Set([...this.streams.values()].flatMap((set) => [...set].map((s) => s.credentialId)).filter((id): id is string => id !== null))];
      if (credentials !== undefined && presented.length > 0) {
        const live = await credentials.live(presented);
        for (const id of presented) if (!live.has(id)) this.credentialRevoked(id);
      }
      const rows: Array<{ handle: string; revision: string }> = await this.db.query('SELECT handle, revision FROM environments WHERE handle = ANY($1)', [environments]);
      for (const row of rows) {
        // Also a stream still owed its snapshot or its Hello's answer: the sync that should have sent
        // it failed (PostgreSQL away), and nothing else would retry it before the next change.
        const lagging = [...(this.streams.get(row.handle) ?? [])].some((s) => s.sentRevision < Number(row.revision) || s.needsSnapshot || !s.answered);
        if (lagging) void this.sync(row.handle);
      }
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'revision poll failed');
    }
  }

  /** Renews the liveness of the proxies connected here (after a PostgreSQL outage, within one interval). */
  private async vouchForStreams(): Promise<void> {
    if (this.stopped) return;
    const openIds = () => new Set([...this.streams.values()].flatMap((set) => [...set].map((s) => s.proxyId)));
    const proxyIds = [...openIds()];
    try {
      await this.dataPlanes.stillConnected(proxyIds);
      // A stream that closed meanwhile had its disconnect recorded, perhaps before this renewal landed.
      const open = openIds();
      for (const id of proxyIds) if (!open.has(id)) await this.dataPlanes.disconnected(id);
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'could not renew the liveness of connected proxies');
    }
  }

  private async trim(): Promise<void> {
    if (this.stopped) return;
    try {
      const trimmed = await trimChangeLog(this.db, this.deltaLimits.maxRevisions);
      if (trimmed > 0) this.logger.debug({ trimmed }, 'change log trimmed');
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'change log trim failed');
    }
  }
}
