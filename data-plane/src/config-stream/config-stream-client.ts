// The proxy's end of tokengate.v1.ConfigService/StreamConfig: says Hello (accepting deltas), applies
// each Snapshot and SnapshotDelta (compile, swap, ACK; or NACK and keep serving the old one), asks for
// a full snapshot after a refused delta or one not based on its applied revision, reconnects forever
// with back-off, and carries usage batches until the control plane acknowledges them.
import { Client, Metadata, credentials, type ChannelCredentials, type ClientDuplexStream, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { SnapshotCompiler } from '../snapshot/snapshot-compiler';
import type { SnapshotHolder } from '../snapshot/snapshot-holder';
import { loadConfigServiceContract, type StreamConfigMethod } from './config-proto';
import { DEFAULT_BACKOFF, ReconnectBackoff, type BackoffOptions } from './reconnect-backoff';
import type { ControlPlaneMessage, DataPlaneMessage, SnapshotDeltaMessage, SnapshotMessage, UsageBatchMessage } from './wire-types';

export interface ConfigStreamTlsOptions {
  /** PEM CA bundle that signs the control plane's certificate. */
  readonly caCert: Buffer;
  /** PEM client certificate and key, for mutual TLS. */
  readonly clientCert?: Buffer;
  readonly clientKey?: Buffer;
  /** Overrides the name checked against the server certificate (tests, IP addresses). */
  readonly serverNameOverride?: string;
}

export type ConfigStreamEvent =
  | { readonly type: 'connected' }
  | { readonly type: 'disconnected'; readonly reason: string; readonly retryInMs: number }
  | { readonly type: 'applied'; readonly revision: bigint; readonly from: 'snapshot' | 'delta' }
  | { readonly type: 'rejected'; readonly revision: string; readonly reason: string };

export interface ConfigStreamClientOptions {
  /** host:port of the control plane's gRPC listener. */
  readonly address: string;
  readonly environment: string;
  readonly proxyId: string;
  readonly version: string;
  /** TOKENGATE_DATAPLANE_TOKEN, sent as `authorization: Bearer <token>` metadata. */
  readonly token?: string;
  /** Absent: plaintext (insecure) channel. */
  readonly tls?: ConfigStreamTlsOptions;
  readonly compiler: SnapshotCompiler;
  readonly holder: SnapshotHolder;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  readonly protoPath?: string;
  /** Called when the control plane acknowledges a usage batch (it is stored, exactly once). */
  readonly onUsageAcknowledged?: (batchId: string) => void;
  /** Usage batches kept for re-sending at most; the oldest are dropped beyond it. */
  readonly maxPendingUsageBatches?: number;
  readonly onEvent?: (event: ConfigStreamEvent) => void;
}

type ConfigCall = ClientDuplexStream<DataPlaneMessage, ControlPlaneMessage>;

export class ConfigStreamClient {
  private readonly client: Client;
  private readonly method: StreamConfigMethod;
  private readonly backoff: ReconnectBackoff;
  private readonly pendingUsage = new Map<string, UsageBatchMessage>();
  private call: ConfigCall | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private isConnected = false;
  /** A SnapshotRequest is out on the current stream: deltas are dropped until the snapshot arrives. */
  private awaitingSnapshot = false;
  private lastFailureWarningAt = Number.NEGATIVE_INFINITY;
  private started = false;
  private stopped = false;

  constructor(private readonly options: ConfigStreamClientOptions) {
    this.method = loadConfigServiceContract(options.protoPath).streamConfig;
    this.backoff = new ReconnectBackoff(options.backoff);
    this.client = new Client(options.address, channelCredentials(options.tls), {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      // A snapshot carries every consumer key of the environment; 4 MiB (the default) is too small.
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      // The channel backs off on its own too (from 1 s by default); align it with ours so a restarted
      // control plane is found again as soon as our schedule says.
      'grpc.initial_reconnect_backoff_ms': options.backoff?.initialDelayMs ?? DEFAULT_BACKOFF.initialDelayMs,
      'grpc.max_reconnect_backoff_ms': options.backoff?.maxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
      ...(options.tls?.serverNameOverride === undefined ? {} : { 'grpc.ssl_target_name_override': options.tls.serverNameOverride }),
    });
  }

  /**
   * True while a stream is open and the control plane has sent something on it (it answers Hello with a
   * snapshot at once). Response headers alone do not count: a refused token also gets headers.
   */
  get connected(): boolean {
    return this.isConnected;
  }

  get pendingUsageBatches(): number {
    return this.pendingUsage.size;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.openStream();
  }

  /** Closes the stream and the channel; no reconnect afterwards. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const call = this.call;
    this.call = null;
    this.isConnected = false;
    if (call !== null) call.cancel();
    this.client.close();
  }

  /**
   * Queues a usage batch and sends it when a stream is open. It is kept (and re-sent after every
   * reconnect) until a UsageAck with its batch_id arrives; the control plane applies a batch id once.
   */
  sendUsage(batch: UsageBatchMessage): void {
    this.pendingUsage.delete(batch.batch_id);
    this.pendingUsage.set(batch.batch_id, batch);
    const limit = this.options.maxPendingUsageBatches ?? 10_000;
    while (this.pendingUsage.size > limit) {
      const oldest = this.pendingUsage.keys().next().value as string;
      this.pendingUsage.delete(oldest);
      this.options.logger.warn({ batchId: oldest }, 'usage batch dropped: too many unacknowledged batches');
    }
    if (this.isConnected && this.call !== null) this.write(this.call, { usage: batch });
  }

  private openStream(): void {
    if (this.stopped) return;
    const metadata = new Metadata();
    if (this.options.token !== undefined && this.options.token !== '') metadata.set('authorization', `Bearer ${this.options.token}`);
    const call: ConfigCall = this.client.makeBidiStreamRequest(
      this.method.path,
      this.method.serializeRequest,
      this.method.deserializeResponse,
      metadata,
    );
    this.call = call;
    this.awaitingSnapshot = false;
    call.on('data', (message: ControlPlaneMessage) => this.onMessage(call, message));
    // 'error' always precedes 'status' for a non-OK status; the listener keeps it from being thrown.
    call.on('error', (error: ServiceError) => {
      if (this.call === call) this.options.logger.debug({ code: error.code, details: error.details }, 'config stream error');
    });
    call.on('status', (status: StatusObject) => this.onStreamEnded(call, status));
    this.write(call, {
      hello: {
        proxy_id: this.options.proxyId,
        environment: this.options.environment,
        version: this.options.version,
        last_applied_revision: this.options.holder.revision.toString(),
        accepts_deltas: true,
      },
    });
  }

  private markConnected(call: ConfigCall): void {
    if (this.call !== call || this.isConnected) return;
    this.isConnected = true;
    this.lastFailureWarningAt = Number.NEGATIVE_INFINITY;
    this.options.logger.info({ address: this.options.address }, 'connected to control plane');
    this.options.onEvent?.({ type: 'connected' });
    for (const batch of this.pendingUsage.values()) this.write(call, { usage: batch });
  }

  private onStreamEnded(call: ConfigCall, status: StatusObject): void {
    if (this.call !== call) return;
    this.call = null;
    this.isConnected = false;
    call.end();
    if (this.stopped) return;
    const retryInMs = this.backoff.nextDelayMs();
    const reason = `${statusName(status.code)}: ${status.details}`;
    // While the control plane stays away, retries are logged at warn once a minute, not every few seconds.
    const now = Date.now();
    const level = now - this.lastFailureWarningAt >= 60_000 ? 'warn' : 'debug';
    if (level === 'warn') this.lastFailureWarningAt = now;
    this.options.logger[level]({ reason, retryInMs, appliedRevision: this.options.holder.revision.toString() }, 'config stream closed; serving the last applied snapshot');
    this.options.onEvent?.({ type: 'disconnected', reason, retryInMs });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openStream();
    }, retryInMs);
  }

  private onMessage(call: ConfigCall, message: ControlPlaneMessage): void {
    this.markConnected(call);
    // Only a stream that delivered something resets the back-off: one that is accepted and cut at once
    // (wrong token, overloaded control plane) keeps backing off.
    this.backoff.reset();
    switch (message.message) {
      case 'snapshot':
        if (message.snapshot) this.applySnapshot(call, message.snapshot);
        break;
      case 'delta':
        if (message.delta) this.applyDelta(call, message.delta);
        break;
      case 'usage_ack':
        if (message.usage_ack) {
          this.pendingUsage.delete(message.usage_ack.batch_id);
          this.options.onUsageAcknowledged?.(message.usage_ack.batch_id);
        }
        break;
      default:
        this.options.logger.warn('config stream message with no known member ignored');
    }
  }

  private applySnapshot(call: ConfigCall, snapshot: SnapshotMessage): void {
    const { holder, compiler, logger } = this.options;
    // Whatever becomes of it, this is the answer to a SnapshotRequest: deltas are welcome again.
    this.awaitingSnapshot = false;
    const applied = holder.revision;
    let revision: bigint;
    try {
      revision = BigInt(snapshot.revision);
    } catch {
      this.reject(call, snapshot.revision, `revision "${snapshot.revision}" is not an integer`);
      return;
    }
    if (holder.current !== null && revision === applied) {
      // The control plane re-sends the current snapshot after a reconnect: confirm it, recompile nothing.
      this.write(call, { ack: { revision: snapshot.revision } });
      return;
    }
    if (revision <= applied) {
      this.reject(call, snapshot.revision, `revision ${revision} is not above the applied revision ${applied}`);
      return;
    }
    let compiled;
    try {
      compiled = compiler.compile(snapshot);
    } catch (error) {
      this.reject(call, snapshot.revision, (error as Error).message);
      return;
    }
    holder.swap(compiled);
    logger.info({ revision: snapshot.revision, services: compiled.services.size, consumerKeys: compiled.consumerKeys.size }, 'snapshot applied');
    this.options.onEvent?.({ type: 'applied', revision, from: 'snapshot' });
    this.write(call, { ack: { revision: snapshot.revision } });
  }

  /**
   * Applies a delta on top of the applied snapshot, build-then-swap. A delta not based on the applied
   * revision (a gap) is not refused, it is answered with a SnapshotRequest; one that does not compile is
   * NACKed (the rollout learns why), then a full snapshot is asked for, since the control plane's next
   * delta would build on the refused one.
   */
  private applyDelta(call: ConfigCall, delta: SnapshotDeltaMessage): void {
    const { holder, compiler, logger } = this.options;
    if (this.awaitingSnapshot) return;
    const current = holder.current;
    if (current === null || delta.base_revision !== holder.revision.toString()) {
      this.requestSnapshot(call, `delta based on revision ${delta.base_revision}, applied revision ${holder.revision}`);
      return;
    }
    // The answer to a Hello from a proxy already at the current revision: nothing to apply.
    if (delta.revision === delta.base_revision) {
      this.write(call, { ack: { revision: delta.revision } });
      return;
    }
    let compiled;
    try {
      compiled = compiler.applyDelta(current, delta);
    } catch (error) {
      this.reject(call, delta.revision, (error as Error).message);
      this.requestSnapshot(call, 'a delta was refused');
      return;
    }
    holder.swap(compiled);
    logger.debug(
      { baseRevision: delta.base_revision, revision: delta.revision, services: delta.upserted_services.length + delta.removed_service_ids.length, consumerKeys: delta.upserted_keys.length + delta.removed_key_hashes.length },
      'delta applied',
    );
    this.options.onEvent?.({ type: 'applied', revision: compiled.revision, from: 'delta' });
    this.write(call, { ack: { revision: delta.revision } });
  }

  private requestSnapshot(call: ConfigCall, reason: string): void {
    this.awaitingSnapshot = true;
    this.options.logger.info({ reason, appliedRevision: this.options.holder.revision.toString() }, 'asking the control plane for a full snapshot');
    this.write(call, { resync: { applied_revision: this.options.holder.revision.toString(), reason } });
  }

  private reject(call: ConfigCall, revision: string, reason: string): void {
    this.options.logger.error({ revision, reason, appliedRevision: this.options.holder.revision.toString() }, 'snapshot rejected; keeping the applied one');
    this.options.onEvent?.({ type: 'rejected', revision, reason });
    this.write(call, { nack: { revision: /^\d+$/.test(revision) ? revision : '0', reason } });
  }

  /** Writes on the call if it is still the live one; a reply lost to a closed stream is re-derived after reconnecting. */
  private write(call: ConfigCall, message: DataPlaneMessage): void {
    if (this.call !== call || !call.writable) return;
    call.write(message);
  }
}

function channelCredentials(tls: ConfigStreamTlsOptions | undefined): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  return credentials.createSsl(tls.caCert, tls.clientKey ?? null, tls.clientCert ?? null);
}

const STATUS_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL',
  'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}
