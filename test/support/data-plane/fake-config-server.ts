// A control plane stand-in for tests: a real gRPC server speaking tokengate.v1.ConfigService that
// sends snapshots on demand and records every Hello, ACK, NACK and usage batch it receives.
import { Server, ServerCredentials, status, type Metadata, type ServerDuplexStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadConfigServiceContract } from '../../../data-plane/src/config-stream/config-proto';
import type { ControlPlaneMessageInput, DecodedDataPlaneMessage, HelloMessage, SnapshotMessage, SnapshotRequestMessage, UsageBatchMessage } from '../../../data-plane/src/config-stream/wire-types';
import { RecordLog } from './record-log';

export type SnapshotReply =
  | { readonly kind: 'ack'; readonly revision: string; readonly proxyId: string }
  | { readonly kind: 'nack'; readonly revision: string; readonly reason: string; readonly proxyId: string };

export interface FakeConfigServerOptions {
  /** 0 (default) picks a free port; pass a previous server's port to "restart" it. */
  readonly port?: number;
  /** When set, streams whose `authorization` metadata is not `Bearer <token>` end with UNAUTHENTICATED. */
  readonly token?: string;
  /** Sent to each stream right after its Hello, as the real control plane does. */
  readonly initialSnapshot?: SnapshotMessage;
  /** PEM certificate chain and key: serve TLS instead of plaintext. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

interface OpenStream {
  readonly call: ServerDuplexStream<DecodedDataPlaneMessage, ControlPlaneMessageInput>;
  readonly proxyId: string;
}

export class FakeConfigServer {
  readonly hellos = new RecordLog<HelloMessage & { readonly authorization: string | undefined }>();
  readonly replies = new RecordLog<SnapshotReply>();
  readonly usageBatches = new RecordLog<UsageBatchMessage>();
  /** SnapshotRequests received; each is answered with the current snapshot, as the real control plane does. */
  readonly snapshotRequests = new RecordLog<SnapshotRequestMessage>();
  /** Streams refused for a wrong token, by the authorization metadata they carried. */
  readonly refusedStreams = new RecordLog<string | undefined>();
  /** Streams that ended (proxy went away or server stopped), by proxy id. */
  readonly disconnects = new RecordLog<string>();
  private readonly streams = new Set<OpenStream>();
  /** Sent after each Hello and in answer to each SnapshotRequest (publish() also broadcasts it). */
  current: SnapshotMessage | null;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: FakeConfigServerOptions,
  ) {
    this.current = options.initialSnapshot ?? null;
  }

  static async start(options: FakeConfigServerOptions = {}): Promise<FakeConfigServer> {
    const contract = loadConfigServiceContract();
    const server = new Server();
    let instance: FakeConfigServer | null = null;
    const implementation: UntypedServiceImplementation = {
      StreamConfig: (call: ServerDuplexStream<DecodedDataPlaneMessage, ControlPlaneMessageInput>) => {
        if (instance === null) {
          call.emit('error', { code: status.UNAVAILABLE, details: 'starting' });
          return;
        }
        instance.accept(call);
      },
    };
    server.addService(contract.service, implementation);
    const port = await new Promise<number>((resolve, reject) => {
      const credentials = options.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(null, [{ cert_chain: options.tls.cert, private_key: options.tls.key }], false);
      server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentials, (error, boundPort) => {
        if (error) reject(error);
        else resolve(boundPort);
      });
    });
    instance = new FakeConfigServer(server, port, options);
    return instance;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Makes `snapshot` current: sent to every open stream and to each stream that opens later. */
  publish(snapshot: SnapshotMessage): void {
    this.current = snapshot;
    this.broadcast({ snapshot });
  }

  /** Sends any message to every open stream (deltas, usage acks, stale snapshots...). */
  broadcast(message: ControlPlaneMessageInput): void {
    for (const stream of this.streams) stream.call.write(message);
  }

  /** Waits for the ACK or NACK of `revision` (optionally from one proxy), including ones already received. */
  replyFor(revision: number | bigint | string, proxyId?: string): Promise<SnapshotReply> {
    const wanted = revision.toString();
    return this.replies.waitFor((reply) => reply.revision === wanted && (proxyId === undefined || reply.proxyId === proxyId));
  }

  /** Ends every open stream with OK, as a control plane replica going away cleanly would. */
  endAllStreams(): void {
    for (const stream of this.streams) stream.call.end();
    this.streams.clear();
  }

  /** Stops at once, cutting open streams. */
  stop(): Promise<void> {
    this.server.forceShutdown();
    this.streams.clear();
    return Promise.resolve();
  }

  private accept(call: ServerDuplexStream<DecodedDataPlaneMessage, ControlPlaneMessageInput>): void {
    const authorization = firstString(call.metadata);
    if (this.options.token !== undefined && authorization !== `Bearer ${this.options.token}`) {
      this.refusedStreams.push(authorization);
      call.emit('error', { code: status.UNAUTHENTICATED, details: 'invalid data-plane token' });
      return;
    }
    let stream: OpenStream | null = null;
    call.on('data', (message: DecodedDataPlaneMessage) => {
      if (message.hello) {
        stream = { call, proxyId: message.hello.proxy_id };
        this.streams.add(stream);
        this.hellos.push({ ...message.hello, authorization });
        if (this.current !== null) call.write({ snapshot: this.current });
        return;
      }
      const proxyId = stream?.proxyId ?? '';
      if (message.ack) this.replies.push({ kind: 'ack', revision: message.ack.revision, proxyId });
      else if (message.nack) this.replies.push({ kind: 'nack', revision: message.nack.revision, reason: message.nack.reason, proxyId });
      else if (message.resync) {
        this.snapshotRequests.push(message.resync);
        if (this.current !== null) call.write({ snapshot: this.current });
      } else if (message.usage) {
        this.usageBatches.push(message.usage);
        call.write({ usage_ack: { batch_id: message.usage.batch_id } });
      }
    });
    const onGone = (): void => {
      if (stream !== null && this.streams.delete(stream)) this.disconnects.push(stream.proxyId);
    };
    call.on('end', () => {
      onGone();
      call.end();
    });
    call.on('error', onGone);
    call.on('cancelled', onGone);
  }
}

function firstString(metadata: Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}
