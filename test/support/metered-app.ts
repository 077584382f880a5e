// An app metered end to end on a test control plane: a fake OpenAI answering with fixed usage, an
// OpenAI service at `/acme/openai` and a developer's connection to it; and the usage the control plane
// has stored for that connection, as GraphQL reports it.
import { type FakeServer, startFakeOpenAI } from '../fakes';
import { type Tenant, type TestControlPlane, connectApp, registerOpenAIService, seedEnvironments, seedTenant } from './control-plane-harness';
import { PROVIDER_SECRETS } from './gateway-harness';

export interface MeteredApp {
  tenant: Tenant;
  upstream: FakeServer;
  connectionId: string;
  /** The connection's production consumer key. */
  key: string;
}

export async function seedMeteredOpenAIApp(cp: TestControlPlane, usage: { prompt: number; completion: number }): Promise<MeteredApp> {
  await seedEnvironments(cp);
  const tenant = await seedTenant(cp, 'acme');
  const upstream = await startFakeOpenAI({ requireApiKey: PROVIDER_SECRETS.openai });
  upstream.behaviour.usage = usage;
  const serviceId = await registerOpenAIService(cp, tenant, `${upstream.url}/v1`);
  return { tenant, upstream, ...(await connectApp(cp, tenant, serviceId)) };
}

export interface StoredUsage {
  requests: number;
  promptTokens: number;
  completionTokens: number;
}

/** What `plane` reports for the app's connection (all of it in one row: one model, one operation). */
export async function storedUsage(plane: TestControlPlane, app: MeteredApp): Promise<StoredUsage> {
  const { connection } = await plane.ok<{ connection: { usageReport: { rows: StoredUsage[] } } }>(
    'query($id: ID!) { connection(id: $id) { usageReport { rows { requests promptTokens completionTokens } } } }',
    { id: app.connectionId },
    app.tenant.tokens.developer,
  );
  return connection.usageReport.rows[0] ?? { requests: 0, promptTokens: 0, completionTokens: 0 };
}
