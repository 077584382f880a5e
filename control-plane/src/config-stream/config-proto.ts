// Loads tokengate.v1.ConfigService at run time with the loader options both planes share
// (proto/loader-options.json); snapshot.types.ts names the types generated for exactly these options.
import { join } from 'node:path';
import { loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../../proto/generated/config';
import SHARED_LOADER_OPTIONS from '../../../proto/loader-options.json';
import { findRepositoryRoot } from '../common/repository-root';

export const CONFIG_PROTO_OPTIONS: Readonly<Options> = Object.freeze({
  ...SHARED_LOADER_OPTIONS,
  longs: SHARED_LOADER_OPTIONS.longs === 'String' ? String : Number,
  enums: String,
});

/**
 * A ControlPlaneMessage serialized once (e.g. a snapshot sent to many proxies): the service's response
 * serializer passes its bytes through instead of encoding a message again for every stream.
 */
export class EncodedControlPlaneMessage {
  constructor(readonly bytes: Buffer) {}
}

export interface ConfigServiceContract {
  readonly service: ServiceClientConstructor;
  /** Encodes a ControlPlaneMessage (what the server writes). */
  readonly encodeResponse: (message: object) => Buffer;
}

let cached: ConfigServiceContract | undefined;

/** The ConfigService definition, loaded from proto/ at run time (one source of truth for both planes). */
export function loadConfigServiceContract(): ConfigServiceContract {
  if (cached) return cached;
  const file = join(findRepositoryRoot(__dirname), 'proto/tokengate/v1/config.proto');
  const definition = loadSync(file, CONFIG_PROTO_OPTIONS);
  const pkg = loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  const service = pkg.tokengate.v1.ConfigService as unknown as ServiceClientConstructor;
  const method = service.service.StreamConfig;
  const encode = method.responseSerialize.bind(method) as (message: object) => Buffer;
  method.responseSerialize = (message: object) => (message instanceof EncodedControlPlaneMessage ? message.bytes : encode(message));
  cached = { service, encodeResponse: encode };
  return cached;
}

export function loadConfigService(): ServiceClientConstructor {
  return loadConfigServiceContract().service;
}
