// The CLI's only way to the control plane: GraphQL over HTTP with an API token, as any automation.
// Counts the mutations it sends, so callers can report (and tests can prove) what a run changed.

export const DEFAULT_GRAPHQL_URL = 'http://127.0.0.1:4000/graphql';

/** A refusal or failure reported by (or on the way to) the control plane. */
export class ApiError extends Error {
  constructor(
    message: string,
    /** `extensions.code` (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, NOT_FOUND, CONFLICT, ...), or UNREACHABLE / HTTP_<status>. */
    readonly code: string,
    /** `extensions.field` when the API named the offending input field. */
    readonly field: string | undefined,
    /** The operation that failed, e.g. `registerGenAIService /openai`. */
    readonly operation: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  describe(): string {
    return `${this.operation} failed: ${this.code}${this.field ? ` (field ${this.field})` : ''}: ${this.message}`;
  }
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: Array<{ message?: string; extensions?: { code?: unknown; field?: unknown } }>;
}

export interface SentMutation {
  /** Mutation field, e.g. `configureServiceEnvironment`. */
  name: string;
  /** What it targeted, e.g. `/openai production`. */
  target: string;
}

export class TokengateClient {
  /** Every mutation sent (successful or not), in order. */
  readonly mutationsSent: SentMutation[] = [];

  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  query<T>(operation: string, document: string, variables: Record<string, unknown> = {}): Promise<T> {
    return this.post<T>(operation, document, variables);
  }

  mutate<T>(name: string, target: string, document: string, variables: Record<string, unknown>): Promise<T> {
    this.mutationsSent.push({ name, target });
    return this.post<T>(`${name} ${target}`.trim(), document, variables);
  }

  private async post<T>(operation: string, document: string, variables: Record<string, unknown>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ query: document, variables }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(`cannot reach the control plane at ${this.url} (${cause?.code ?? cause?.message ?? (error as Error).message})`, 'UNREACHABLE', undefined, operation);
    }
    const text = await response.text();
    let body: GraphQLBody<T>;
    try {
      body = JSON.parse(text) as GraphQLBody<T>;
    } catch {
      throw new ApiError(`the server at ${this.url} answered HTTP ${response.status} without a GraphQL response; is this the GraphQL URL?`, `HTTP_${response.status}`, undefined, operation);
    }
    const first = body.errors?.[0];
    if (first) {
      const code = typeof first.extensions?.code === 'string' ? first.extensions.code : `HTTP_${response.status}`;
      const field = typeof first.extensions?.field === 'string' ? first.extensions.field : undefined;
      throw new ApiError(first.message ?? 'unknown error', code, field, operation);
    }
    if (!body.data) throw new ApiError(`HTTP ${response.status} without data`, `HTTP_${response.status}`, undefined, operation);
    return body.data;
  }
}
