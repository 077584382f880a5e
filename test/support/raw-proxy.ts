// A bare config-stream peer standing in for a proxy: it says Hello and records snapshots; the test
// decides whether (and what) it ACKs or NACKs. It loads the proto on its own, with camelCase fields and
// numbers for uint64 (not the planes' shared options): what it checks is the wire contract. Its Hello
// does not set acceptsDeltas, so it is served like an older proxy: full snapshots only.
import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const definition = loadSync(join(__dirname, '../../proto/tokengate/v1/config.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
const ConfigService = (loadPackageDefinition(definition) as unknown as { tokengate: { v1: GrpcObject } }).tokengate.v1.ConfigService as ServiceClientConstructor;

export interface RawSnapshot {
  revision: number;
  environment: string;
  services: Array<Record<string, unknown> & { id: string }>;
  consumerKeys: Array<{ keyHash: string; connectionId: string; serviceId: string; projectId: string }>;
  generatedAt: string;
}

export interface RawHello {
  proxyId: string;
  environment: string;
  version: string;
  lastAppliedRevision: number;
  acceptsDeltas?: boolean;
}

export interface RawControlPlaneMessage {
  snapshot?: RawSnapshot;
  delta?: { baseRevision: number; revision: number; upsertedServices: RawSnapshot['services']; removedServiceIds: string[]; upsertedKeys: RawSnapshot['consumerKeys']; removedKeyHashes: string[] };
  usageAck?: { batchId: string };
  message?: 'snapshot' | 'delta' | 'usageAck';
}

export interface RawProxy {
  snapshots: RawSnapshot[];
  error?: ServiceError;
  stream: ClientDuplexStream<object, RawControlPlaneMessage>;
  ack(revision: number): void;
  nack(revision: number, reason: string): void;
  close(): void;
}

export function connectRawProxy(address: string, token: string, hello: RawHello): RawProxy {
  const client = new ConfigService(address, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const stream = (client as unknown as { streamConfig(m: Metadata): ClientDuplexStream<object, RawControlPlaneMessage> }).streamConfig(metadata);
  const proxy: RawProxy = {
    snapshots: [],
    stream,
    ack: (revision) => stream.write({ ack: { revision } }),
    nack: (revision, reason) => stream.write({ nack: { revision, reason } }),
    close: () => {
      stream.cancel();
      client.close();
    },
  };
  stream.on('data', (message: RawControlPlaneMessage) => message.snapshot && proxy.snapshots.push(message.snapshot));
  stream.on('error', (error: ServiceError) => (proxy.error = error));
  stream.write({ hello });
  return proxy;
}
