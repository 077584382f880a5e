// A config-stream peer that accepts deltas, speaking the contract exactly as the data plane does
// (generated types, shared loader options) but deciding itself what to ACK, NACK or ask for: the
// protocol under test, without the proxy's own reactions.
import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { loadConfigServiceContract } from '../../data-plane/src/config-stream/config-proto';
import type { ConsumerKeyMessage, ControlPlaneMessage, DataPlaneMessage, ServiceMessage, SnapshotDeltaMessage, SnapshotMessage } from '../../data-plane/src/config-stream/wire-types';

export type ConfigMessage = { kind: 'snapshot'; snapshot: SnapshotMessage } | { kind: 'delta'; delta: SnapshotDeltaMessage };

/** What a peer holds after applying what it was sent, in order (a delta on the wrong base throws). */
export class HeldConfig {
  revision = '0';
  readonly services = new Map<string, ServiceMessage>();
  readonly keys = new Map<string, ConsumerKeyMessage>();

  apply(message: ConfigMessage): void {
    if (message.kind === 'snapshot') {
      this.services.clear();
      this.keys.clear();
      for (const s of message.snapshot.services) this.services.set(s.id, s);
      for (const k of message.snapshot.consumer_keys) this.keys.set(k.key_hash, k);
      this.revision = message.snapshot.revision;
      return;
    }
    const { delta } = message;
    if (delta.base_revision !== this.revision) throw new Error(`delta based on ${delta.base_revision}, held ${this.revision}`);
    for (const id of delta.removed_service_ids) this.services.delete(id);
    for (const s of delta.upserted_services) this.services.set(s.id, s);
    for (const hash of delta.removed_key_hashes) this.keys.delete(hash);
    for (const k of delta.upserted_keys) this.keys.set(k.key_hash, k);
    this.revision = delta.revision;
  }
}

export interface DeltaPeer {
  readonly received: ConfigMessage[];
  error?: ServiceError;
  write(message: DataPlaneMessage): void;
  /** Stops reading (a slow proxy): once gRPC's buffers and HTTP/2 window are full, the server must wait. */
  pause(): void;
  resume(): void;
  /** Waits for the n-th config message (0-based), received already or not. */
  nth(n: number, timeoutMs?: number): Promise<ConfigMessage>;
  close(): void;
}

export function connectDeltaPeer(
  address: string,
  token: string,
  hello: { proxyId: string; environment: string; lastAppliedRevision?: number | string },
  options: { flowControlWindowBytes?: number } = {},
): DeltaPeer {
  const method = loadConfigServiceContract().streamConfig;
  const client = new Client(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    ...(options.flowControlWindowBytes === undefined ? {} : { 'grpc-node.flow_control_window': options.flowControlWindowBytes }),
  });
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const stream: ClientDuplexStream<DataPlaneMessage, ControlPlaneMessage> = client.makeBidiStreamRequest(method.path, method.serializeRequest, method.deserializeResponse, metadata);
  /** Pending nth() checks; each returns true once it resolved. */
  let waiters: Array<() => boolean> = [];
  const peer: DeltaPeer = {
    received: [],
    write: (message) => stream.write(message),
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    nth: (n, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (peer.received.length > n) {
            clearTimeout(timer);
            resolve(peer.received[n]);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => reject(new Error(`config message #${n} did not arrive (got ${peer.received.length})`)), timeoutMs);
        if (!check()) waiters.push(check);
      }),
    close: () => {
      stream.cancel();
      client.close();
    },
  };
  stream.on('data', (message: ControlPlaneMessage) => {
    if (message.snapshot) peer.received.push({ kind: 'snapshot', snapshot: message.snapshot });
    else if (message.delta) peer.received.push({ kind: 'delta', delta: message.delta });
    else return;
    waiters = waiters.filter((check) => !check());
  });
  stream.on('error', (error: ServiceError) => (peer.error = error));
  stream.write({ hello: { proxy_id: hello.proxyId, environment: hello.environment, version: 'test', last_applied_revision: String(hello.lastAppliedRevision ?? 0), accepts_deltas: true } });
  return peer;
}
