import type { DataSource } from 'typeorm';
import { isUuid } from '../common/lookup';
import type { UsageWindowType } from './usage.types';

export interface UsageRecordInput {
  serviceId: string;
  connectionId: string;
  windowUnit: string;
  windowStart: string;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  requests: number;
}

const UNITS = new Set(['MINUTE', 'HOUR', 'DAY']);

export class UsageService {
  constructor(private readonly db: DataSource) {}

  /**
   * Applies a proxy's usage batch once: the batch id is recorded in the same transaction, so a batch
   * re-sent after a lost acknowledgement changes nothing. Records naming unknown services are dropped
   * (a proxy must never be stuck re-sending a batch the database refuses).
   */
  async recordBatch(environmentId: string, batchId: string, records: UsageRecordInput[]): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const fresh: unknown[] = await tx.query('INSERT INTO usage_batches (batch_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING batch_id', [batchId.slice(0, 200)]);
      if (fresh.length === 0) return false;
      for (const r of records) {
        const start = new Date(r.windowStart);
        if (!isUuid(r.serviceId) || !isUuid(r.connectionId) || !UNITS.has(r.windowUnit) || Number.isNaN(start.getTime())) continue;
        await tx.query(
          `INSERT INTO usage_rollups (service_id, environment_id, connection_id, window_unit, window_start, prompt_tokens, completion_tokens, total_tokens, requests)
           SELECT s.id, $2, $3, $4, $5, $6, $7, $8, $9 FROM genai_services s WHERE s.id = $1
           ON CONFLICT (service_id, environment_id, connection_id, window_unit, window_start) DO UPDATE SET
             prompt_tokens = usage_rollups.prompt_tokens + EXCLUDED.prompt_tokens,
             completion_tokens = usage_rollups.completion_tokens + EXCLUDED.completion_tokens,
             total_tokens = usage_rollups.total_tokens + EXCLUDED.total_tokens,
             requests = usage_rollups.requests + EXCLUDED.requests`,
          [r.serviceId, environmentId, r.connectionId, r.windowUnit, start, r.promptTokens, r.completionTokens, r.totalTokens, r.requests],
        );
      }
      await tx.query(`DELETE FROM usage_batches WHERE received_at < now() - interval '7 days'`);
      return true;
    });
  }

  /** Newest windows first; per connection, or summed over the service's connections. */
  async windows(scope: { connectionId: string } | { serviceId: string }, environment: string | null, limit: number): Promise<UsageWindowType[]> {
    const byConnection = 'connectionId' in scope;
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT e.handle AS environment, u.window_unit, u.window_start,
              sum(u.prompt_tokens)::bigint AS prompt_tokens, sum(u.completion_tokens)::bigint AS completion_tokens,
              sum(u.total_tokens)::bigint AS total_tokens, sum(u.requests)::bigint AS requests
         FROM usage_rollups u JOIN environments e ON e.id = u.environment_id
        WHERE ${byConnection ? 'u.connection_id' : 'u.service_id'} = $1 AND ($2::text IS NULL OR e.handle = $2)
        GROUP BY e.handle, u.window_unit, u.window_start
        ORDER BY u.window_start DESC, e.handle
        LIMIT $3`,
      [byConnection ? scope.connectionId : scope.serviceId, environment, Math.min(Math.max(limit, 1), 1000)],
    );
    return rows.map((r) => ({
      environment: r.environment as string,
      windowUnit: r.window_unit as UsageWindowType['windowUnit'],
      windowStart: r.window_start as Date,
      promptTokens: Number(r.prompt_tokens),
      completionTokens: Number(r.completion_tokens),
      totalTokens: Number(r.total_tokens),
      requests: Number(r.requests),
    }));
  }
}
