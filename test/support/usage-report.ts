// What GraphQL says a connection was charged, and what one call added to it: for tests asserting
// that the proxy metered a request with exactly what the (fake) provider reported.
import type { Gateway, ServiceName } from './gateway-harness';
import { waitFor } from './wait';

export interface UsageRow {
  operation: string;
  requestModel: string | null;
  responseModel: string | null;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedPromptReadTokens: number;
  cachedPromptWriteTokens: number;
  reasoningTokens: number;
  errors4xx: number;
  errors5xx: number;
}

/** The connection's usage, one row per operation, request model and response model. */
export async function usageRows(gw: Gateway, connectionId: string): Promise<UsageRow[]> {
  const { connection } = await gw.cp.ok<{ connection: { usageReport: { rows: UsageRow[] } } }>(
    `query($id: ID!) { connection(id: $id) { usageReport(groupBy: [OPERATION, REQUEST_MODEL, RESPONSE_MODEL]) { rows {
      operation requestModel responseModel requests promptTokens completionTokens cachedPromptReadTokens cachedPromptWriteTokens reasoningTokens errors4xx errors5xx } } } }`,
    { id: connectionId },
    gw.tenant.tokens.developer,
  );
  return connection.usageReport.rows;
}

const rowKey = (row: UsageRow) => `${row.operation}|${row.requestModel ?? ''}|${row.responseModel ?? ''}`;

/**
 * Runs `call` (which must make exactly one request to the service) and returns the usage GraphQL
 * gained by it: one row, its counts the difference from before the call.
 */
export async function meteredBy(gw: Gateway, service: ServiceName, call: () => Promise<void>): Promise<UsageRow> {
  const { connectionId } = gw.services[service];
  const before = new Map((await usageRows(gw, connectionId)).map((row) => [rowKey(row), row]));
  const requestsBefore = [...before.values()].reduce((sum, row) => sum + row.requests, 0);
  await call();
  const after = await waitFor(async () => {
    const rows = await usageRows(gw, connectionId);
    return rows.reduce((sum, row) => sum + row.requests, 0) === requestsBefore + 1 && rows;
  }, `the usage of one ${service} request`);
  const changed = after.filter((row) => before.get(rowKey(row))?.requests !== row.requests);
  expect(changed).toHaveLength(1);
  const [row] = changed;
  const previous = before.get(rowKey(row));
  const minus = (name: keyof UsageRow) => (row[name] as number) - ((previous?.[name] as number | undefined) ?? 0);
  return {
    ...row,
    requests: minus('requests'),
    promptTokens: minus('promptTokens'),
    completionTokens: minus('completionTokens'),
    cachedPromptReadTokens: minus('cachedPromptReadTokens'),
    cachedPromptWriteTokens: minus('cachedPromptWriteTokens'),
    reasoningTokens: minus('reasoningTokens'),
    errors4xx: minus('errors4xx'),
    errors5xx: minus('errors5xx'),
  };
}

/** Runs `call` (one request to the service) and returns what it answered with what Tokengate charged for it (see meteredBy). */
export async function meteredCall<T>(gw: Gateway, service: ServiceName, call: () => Promise<T>): Promise<{ call: T; charged: UsageRow }> {
  let result: { value: T } | undefined;
  const charged = await meteredBy(gw, service, async () => {
    result = { value: await call() };
  });
  return { call: result!.value, charged };
}

/** Runs `call`, which makes `requests` requests to the service, and returns the sum of what they were charged. */
export async function meteredMany(gw: Gateway, service: ServiceName, requests: number, call: () => Promise<void>): Promise<Omit<UsageRow, 'operation' | 'requestModel' | 'responseModel'> & { operations: string[] }> {
  const { connectionId } = gw.services[service];
  const sum = (rows: UsageRow[], name: keyof UsageRow) => rows.reduce((total, row) => total + (row[name] as number), 0);
  const before = await usageRows(gw, connectionId);
  await call();
  const after = await waitFor(async () => {
    const rows = await usageRows(gw, connectionId);
    return sum(rows, 'requests') === sum(before, 'requests') + requests && rows;
  }, `the usage of ${requests} ${service} requests`);
  const delta = (name: keyof UsageRow) => sum(after, name) - sum(before, name);
  const beforeKeys = new Map(before.map((row) => [`${row.operation}|${row.requestModel}|${row.responseModel}`, row.requests]));
  return {
    operations: after.filter((row) => beforeKeys.get(`${row.operation}|${row.requestModel}|${row.responseModel}`) !== row.requests).map((row) => row.operation),
    requests: delta('requests'),
    promptTokens: delta('promptTokens'),
    completionTokens: delta('completionTokens'),
    cachedPromptReadTokens: delta('cachedPromptReadTokens'),
    cachedPromptWriteTokens: delta('cachedPromptWriteTokens'),
    reasoningTokens: delta('reasoningTokens'),
    errors4xx: delta('errors4xx'),
    errors5xx: delta('errors5xx'),
  };
}
