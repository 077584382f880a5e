import { join } from 'node:path';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { findRepositoryRoot } from '../common/repository-root';

export const CONFIG_PROTO_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } as const;

/** The ConfigService definition, loaded from proto/ at run time (one source of truth for both planes). */
export function loadConfigService(): ServiceClientConstructor {
  const file = join(findRepositoryRoot(__dirname), 'proto/tokengate/v1/config.proto');
  const definition = loadSync(file, CONFIG_PROTO_OPTIONS);
  const pkg = loadPackageDefinition(definition) as unknown as { tokengate: { v1: GrpcObject } };
  return pkg.tokengate.v1.ConfigService as ServiceClientConstructor;
}
