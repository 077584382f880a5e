// An in-process proxy without a control plane: tests compile snapshots and swap them in directly,
// with one RecordingUpstream standing in for the providers.
import { startDataPlane, type DataPlaneHandle, type DataPlaneOptions } from '../../../data-plane/src/main';
import { silentLogger } from '../../../data-plane/src/observability/logger';
import type { ConsumerKeyMessage, ServiceMessage } from '../../../data-plane/src/config-stream/wire-types';
import { RecordingUpstream } from './recording-upstream';
import { snapshotFixture, TEST_ENVIRONMENT } from './snapshot-fixtures';

export interface ProxyHarness {
  readonly proxy: DataPlaneHandle;
  readonly upstream: RecordingUpstream;
  /** Compiles and swaps in the next revision made of these services and keys. */
  apply(services: readonly ServiceMessage[], consumerKeys?: readonly ConsumerKeyMessage[]): void;
  close(): Promise<void>;
}

export async function startProxyHarness(options: Partial<DataPlaneOptions> = {}): Promise<ProxyHarness> {
  const upstream = await RecordingUpstream.start();
  const proxy = await startDataPlane({ environment: TEST_ENVIRONMENT, controlPlane: null, port: 0, logger: silentLogger(), shutdownGraceMs: 5_000, ...options });
  let revision = 0;
  return {
    proxy,
    upstream,
    apply(services, consumerKeys = []) {
      revision += 1;
      proxy.holder.swap(proxy.compiler.compile(snapshotFixture({ revision, services, consumerKeys })));
    },
    async close() {
      await proxy.close();
      await upstream.close();
    },
  };
}
