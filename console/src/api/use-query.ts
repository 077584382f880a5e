// Loads a query for a screen: data, the error (with a retry), and a reload for after mutations.
// A response that arrives after the screen left, or after a newer load, is dropped.
import type { TadaDocumentNode } from 'gql.tada';
import { useCallback, useEffect, useRef, useState } from 'react';
import { request } from './client';

export interface QueryState<Result> {
  data: Result | null;
  error: unknown;
  loading: boolean;
  reload(): Promise<void>;
}

export function useQuery<Result, Variables>(document: TadaDocumentNode<Result, Variables>, variables: Variables, skip = false): QueryState<Result> {
  const [data, setData] = useState<Result | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(!skip);
  const sequence = useRef(0);
  const key = JSON.stringify(variables);

  const reload = useCallback(async () => {
    const mine = ++sequence.current;
    setLoading(true);
    try {
      const result = await (request as (d: typeof document, v: unknown) => Promise<Result>)(document, JSON.parse(key) as unknown);
      if (mine !== sequence.current) return;
      setData(result);
      setError(null);
    } catch (e) {
      if (mine === sequence.current) setError(e);
    } finally {
      if (mine === sequence.current) setLoading(false);
    }
  }, [document, key]);

  useEffect(() => {
    if (!skip) void reload();
    // The counter is not a DOM ref: bumping it on cleanup discards the load in flight.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    return () => { sequence.current++; };
  }, [reload, skip]);

  return { data, error, loading, reload };
}
