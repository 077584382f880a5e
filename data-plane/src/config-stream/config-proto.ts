// Loads the tokengate.v1 contract at run time with the loader options shared by both planes
// (proto/loader-options.json); the types in wire-types.ts are generated for exactly these options.
import { loadSync, type MethodDefinition, type Options, type ServiceDefinition } from '@grpc/proto-loader';
import SHARED_LOADER_OPTIONS from '../../../proto/loader-options.json';
import { locateUpward } from '../runtime/locate-upward';
import type { ControlPlaneMessage, ControlPlaneMessageInput, DataPlaneMessage, DecodedDataPlaneMessage } from './wire-types';

export const CONFIG_PROTO_RELATIVE_PATH = 'proto/tokengate/v1/config.proto';

/**
 * proto/loader-options.json, as the loader takes it. keepCase: field names as in the .proto
 * (snake_case); longs: String so uint64 revisions never lose precision; enums: String so providers
 * arrive as names; defaults: proto3 zero values are present (absent sub-messages become null); oneofs:
 * a virtual field names the member that is set.
 */
export const CONFIG_PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  ...SHARED_LOADER_OPTIONS,
  longs: SHARED_LOADER_OPTIONS.longs === 'String' ? String : Number,
  enums: String,
});

export const STREAM_CONFIG_PATH = '/tokengate.v1.ConfigService/StreamConfig';

/** The StreamConfig method with its codecs typed for both ends of the stream. */
export interface StreamConfigMethod {
  readonly path: string;
  readonly serializeRequest: (message: DataPlaneMessage) => Buffer;
  readonly deserializeRequest: (bytes: Buffer) => DecodedDataPlaneMessage;
  readonly serializeResponse: (message: ControlPlaneMessageInput) => Buffer;
  readonly deserializeResponse: (bytes: Buffer) => ControlPlaneMessage;
}

export interface ConfigServiceContract {
  readonly protoPath: string;
  readonly service: ServiceDefinition;
  readonly streamConfig: StreamConfigMethod;
}

let cached: ConfigServiceContract | undefined;

/** Loads (once per process per path) the ConfigService definition from the repository's proto file. */
export function loadConfigServiceContract(protoPath?: string): ConfigServiceContract {
  const path = protoPath ?? locateUpward(CONFIG_PROTO_RELATIVE_PATH);
  if (cached !== undefined && cached.protoPath === path) return cached;
  const definition = loadSync(path, CONFIG_PROTO_LOADER_OPTIONS);
  const service = definition['tokengate.v1.ConfigService'] as ServiceDefinition | undefined;
  if (service === undefined || !('StreamConfig' in service)) {
    throw new Error(`${path} does not define tokengate.v1.ConfigService/StreamConfig`);
  }
  // The loader types codecs over `object`; these casts are the single place where decoded objects are
  // given the shapes that wire-types.ts documents (and wire-types.test.ts checks).
  const method = service.StreamConfig as MethodDefinition<object, object>;
  const streamConfig: StreamConfigMethod = {
    path: method.path,
    serializeRequest: (message) => method.requestSerialize(message),
    deserializeRequest: (bytes) => method.requestDeserialize(bytes) as DecodedDataPlaneMessage,
    serializeResponse: (message) => method.responseSerialize(message),
    deserializeResponse: (bytes) => method.responseDeserialize(bytes) as ControlPlaneMessage,
  };
  cached = {
    protoPath: path,
    service,
    streamConfig,
  };
  return cached;
}
