// Serves tokengate.v1.ConfigService/StreamConfig: a full snapshot of the proxy's environment after
// its Hello, then a new one whenever that environment's revision moves; records ACKs and NACKs.
import { readFileSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { DataSource } from 'typeorm';
import type { SecretBox } from '../secrets/secret-box';
import { usageRecordFromMessage } from '../usage/usage-record';
import type { UsageService } from '../usage/usage.service';
import { loadConfigService } from './config-proto';
import { buildSnapshot } from './snapshot-builder';
import type { ControlPlaneMessage, DataPlaneMessage, Snapshot } from './snapshot.types';

type ProxyCall = ServerDuplexStream<DataPlaneMessage, ControlPlaneMessage>;

interface ProxyStream {
  call: ProxyCall;
  proxyId: string;
  environment: string;
  environmentId: string;
  lastSentRevision: number;
}

export interface ConfigStreamTls {
  certFile: string;
  keyFile: string;
  /** When set, proxies must present a client certificate signed by this CA. */
  clientCaFile?: string;
}

export interface ConfigStreamOptions {
  /** Proxies must present `authorization: Bearer <token>`; undefined only in development mode (accepts any). */
  dataPlaneToken: string | undefined;
  /** Safety net behind pub/sub: how often revisions are compared with what each stream was sent. */
  pollIntervalMs?: number;
  tls?: ConfigStreamTls;
  /** Told after an ACK or NACK is recorded (rollouts waiting on that environment look again). */
  onProxyReport?: (environment: string) => void;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class ConfigStreamServer {
  private readonly server = new Server({ 'grpc.keepalive_time_ms': 20_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.keepalive_permit_without_calls': 1 });
  private readonly streams = new Map<string, Set<ProxyStream>>();
  /** Environments with a refresh running, and whether another was requested meanwhile (coalescing). */
  private readonly refreshing = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly expectedToken: Buffer | null;
  private poller: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly db: DataSource,
    private readonly box: SecretBox,
    private readonly logger: Logger,
    private readonly options: ConfigStreamOptions,
    private readonly usage: UsageService,
  ) {
    this.expectedToken = options.dataPlaneToken ? digest(options.dataPlaneToken) : null;
    this.server.addService(loadConfigService().service, { streamConfig: (call: ProxyCall) => this.accept(call) });
  }

  async listen(host: string, port: number): Promise<number> {
    const credentials = this.options.tls
      ? ServerCredentials.createSsl(
          this.options.tls.clientCaFile ? readFileSync(this.options.tls.clientCaFile) : null,
          [{ cert_chain: readFileSync(this.options.tls.certFile), private_key: readFileSync(this.options.tls.keyFile) }],
          Boolean(this.options.tls.clientCaFile),
        )
      : ServerCredentials.createInsecure();
    const bound = await new Promise<number>((resolve, reject) => this.server.bindAsync(`${host}:${port}`, credentials, (error, p) => (error ? reject(error) : resolve(p))));
    const interval = this.options.pollIntervalMs ?? 5000;
    if (interval > 0) {
      this.poller = setInterval(() => void this.poll(), interval);
      this.poller.unref();
    }
    return bound;
  }

  /** A change committed (here or on another replica): push the environment's new revision to its proxies. */
  environmentChanged(environment: string): void {
    if (this.streams.get(environment)?.size) void this.refresh(environment);
  }

  connectedProxies(environment?: string): Array<{ proxyId: string; environment: string; lastSentRevision: number }> {
    const result = [];
    for (const [env, set] of this.streams) {
      if (environment && env !== environment) continue;
      for (const s of set) result.push({ proxyId: s.proxyId, environment: env, lastSentRevision: s.lastSentRevision });
    }
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    const open = [...this.streams.values()].flatMap((set) => [...set]);
    for (const stream of open) stream.call.end();
    await Promise.all([...this.refreshing.values()].map((r) => r.done));
    await Promise.all(open.map((s) => this.markDisconnected(s)));
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.server.forceShutdown();
  }

  private authorized(call: ProxyCall): boolean {
    if (!this.expectedToken) return true;
    const header = call.metadata.get('authorization')[0];
    const token = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header)?.[1] : undefined;
    return token !== undefined && timingSafeEqual(digest(token), this.expectedToken);
  }

  private accept(call: ProxyCall): void {
    if (!this.authorized(call)) {
      call.emit('error', { code: status.UNAUTHENTICATED, details: 'invalid data-plane token (TOKENGATE_DATAPLANE_TOKEN)' });
      return;
    }
    let stream: ProxyStream | undefined;
    // Messages of one stream are handled in order: an ACK is never recorded before its Hello.
    let queue: Promise<void> = Promise.resolve();
    call.on('data', (message: DataPlaneMessage) => {
      queue = queue
        .then(async () => {
          if (message.hello) {
            if (stream) throw new Error('a second Hello on one stream');
            stream = await this.hello(call, message.hello);
          } else if (!stream) {
            throw new Error('the first message of a stream must be Hello');
          } else if (message.ack) {
            const current = stream; // `stream` is cleared when the call closes mid-await
            await this.db.query(
              `UPDATE data_planes SET applied_at = CASE WHEN $2 > applied_revision THEN now() ELSE applied_at END,
                 applied_revision = GREATEST(applied_revision, $2), connected = true, last_seen_at = now() WHERE id = $1`,
              [current.proxyId, message.ack.revision],
            );
            this.options.onProxyReport?.(current.environment);
          } else if (message.usage) {
            const batch = message.usage;
            await this.usage.recordBatch(stream.environmentId, batch.batchId, (batch.records ?? []).map(usageRecordFromMessage));
            // Acknowledged whether new or a re-send: either way it is stored exactly once.
            call.write({ usageAck: { batchId: batch.batchId } } satisfies ControlPlaneMessage);
          } else if (message.nack) {
            const current = stream;
            this.logger.warn({ proxyId: current.proxyId, environment: current.environment, revision: message.nack.revision, reason: message.nack.reason }, 'proxy refused a snapshot');
            await this.db.query(`UPDATE data_planes SET last_nack_reason = $2, last_nack_revision = $3, last_seen_at = now() WHERE id = $1`, [
              current.proxyId,
              message.nack.reason.slice(0, 2000),
              message.nack.revision,
            ]);
            this.options.onProxyReport?.(current.environment);
          }
        })
        .catch((error: unknown) => {
          const details = error instanceof Error ? error.message : String(error);
          this.logger.warn({ proxyId: stream?.proxyId, err: details }, 'closing config stream');
          call.emit('error', { code: status.INVALID_ARGUMENT, details });
        });
    });
    const close = () => {
      if (!stream) return;
      const closing = stream;
      stream = undefined;
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

  private async hello(call: ProxyCall, hello: NonNullable<DataPlaneMessage['hello']>): Promise<ProxyStream> {
    const proxyId = hello.proxyId.trim();
    if (!proxyId || proxyId.length > 200) throw new Error('Hello needs a proxy_id of 1-200 characters');
    const envRows: Array<{ id: string }> = await this.db.query('SELECT id FROM environments WHERE handle = $1', [hello.environment]);
    if (envRows.length === 0) throw new Error(`unknown environment "${hello.environment}"`);
    await this.db.query(
      `INSERT INTO data_planes (id, environment_id, version, applied_revision, connected, last_seen_at)
       VALUES ($1, $2, $3, $4, true, now())
       ON CONFLICT (id) DO UPDATE SET environment_id = EXCLUDED.environment_id, version = EXCLUDED.version,
         applied_revision = EXCLUDED.applied_revision, connected = true, last_seen_at = now()`,
      [proxyId, envRows[0].id, hello.version.slice(0, 100), hello.lastAppliedRevision],
    );
    this.options.onProxyReport?.(hello.environment);
    const stream: ProxyStream = { call, proxyId, environment: hello.environment, environmentId: envRows[0].id, lastSentRevision: hello.lastAppliedRevision };
    const set = this.streams.get(stream.environment) ?? new Set();
    set.add(stream);
    this.streams.set(stream.environment, set);
    this.logger.info({ proxyId, environment: stream.environment, version: hello.version, lastAppliedRevision: hello.lastAppliedRevision }, 'proxy connected');
    // A proxy that already holds the current revision is not sent it again; one that is behind (or new) is.
    void this.refresh(stream.environment, stream);
    return stream;
  }

  private async markDisconnected(stream: ProxyStream): Promise<void> {
    const stillOpen = [...(this.streams.get(stream.environment) ?? [])].some((s) => s.proxyId === stream.proxyId);
    if (stillOpen) return;
    await this.db.query('UPDATE data_planes SET connected = false, last_seen_at = now() WHERE id = $1', [stream.proxyId]).catch((error: unknown) => {
      this.logger.warn({ err: String(error), proxyId: stream.proxyId }, 'could not record a proxy disconnect');
    });
    this.options.onProxyReport?.(stream.environment);
  }

  /**
   * Builds the environment's snapshot and sends it to every stream that has not been sent that
   * revision yet. Calls arriving while a build runs are coalesced into one more build afterwards.
   */
  private refresh(environment: string, forStream?: ProxyStream): Promise<void> {
    const running = this.refreshing.get(environment);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      do {
        state.again = false;
        try {
          const snapshot = await buildSnapshot(this.db, this.box, environment);
          if (snapshot) this.send(environment, snapshot, forStream);
        } catch (error) {
          this.logger.error({ environment, err: error instanceof Error ? error.message : String(error) }, 'could not build a snapshot');
        }
      } while (state.again && !this.stopped);
      this.refreshing.delete(environment);
    })();
    this.refreshing.set(environment, state);
    return state.done;
  }

  private send(environment: string, snapshot: Snapshot, forStream?: ProxyStream): void {
    for (const stream of this.streams.get(environment) ?? []) {
      // A reconnecting proxy reporting revision R still gets R re-sent if it is the one that asked.
      const behind = snapshot.revision > stream.lastSentRevision || (stream === forStream && stream.lastSentRevision === 0);
      if (!behind) continue;
      stream.lastSentRevision = snapshot.revision;
      stream.call.write({ snapshot } satisfies ControlPlaneMessage);
    }
  }

  private async poll(): Promise<void> {
    const environments = [...this.streams.keys()].filter((env) => this.streams.get(env)?.size);
    if (environments.length === 0 || this.stopped) return;
    try {
      const rows: Array<{ handle: string; revision: string }> = await this.db.query('SELECT handle, revision FROM environments WHERE handle = ANY($1)', [environments]);
      for (const row of rows) {
        const lagging = [...(this.streams.get(row.handle) ?? [])].some((s) => s.lastSentRevision < Number(row.revision));
        if (lagging) void this.refresh(row.handle);
      }
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'revision poll failed');
    }
  }
}
