// A bare config-stream peer standing in for a proxy: it says Hello and records snapshots; the test
// decides whether (and what) it ACKs or NACKs.
import { credentials, Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { loadConfigService } from '../../control-plane/src/config-stream/config-proto';
import type { ControlPlaneMessage, DataPlaneMessage, Snapshot } from '../../control-plane/src/config-stream/snapshot.types';

const ConfigService = loadConfigService();

export interface RawProxy {
  snapshots: Snapshot[];
  error?: ServiceError;
  stream: ClientDuplexStream<DataPlaneMessage, ControlPlaneMessage>;
  ack(revision: number): void;
  nack(revision: number, reason: string): void;
  close(): void;
}

export function connectRawProxy(address: string, token: string, hello: NonNullable<DataPlaneMessage['hello']>): RawProxy {
  const client = new ConfigService(address, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const stream = (client as unknown as { streamConfig(m: Metadata): ClientDuplexStream<DataPlaneMessage, ControlPlaneMessage> }).streamConfig(metadata);
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
  stream.on('data', (message: ControlPlaneMessage) => message.snapshot && proxy.snapshots.push(message.snapshot));
  stream.on('error', (error: ServiceError) => (proxy.error = error));
  stream.write({ hello });
  return proxy;
}
