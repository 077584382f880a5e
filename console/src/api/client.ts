// GraphQL over fetch with the session's token. Errors become ApiError with the server's code and the
// input field it names, so forms can highlight that field.
import type { TadaDocumentNode } from 'gql.tada';
import { print } from 'graphql';
import { readToken } from './token-store';

export type ErrorCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'NETWORK_ERROR' | 'SERVER_ERROR' | (string & {});

export class ApiError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly field?: string) {
    super(message);
  }

  /** The last segment of the field path ("input.environments[0].backendSecurity.awsRegion" → "awsRegion"). */
  get fieldName(): string | undefined {
    return this.field?.split('.').pop()?.replace(/\[\d+\]$/, '');
  }
}

interface GraphQLErrorBody { message?: unknown; extensions?: { code?: unknown; field?: unknown } }

export function errorFrom(errors: readonly GraphQLErrorBody[] | undefined): ApiError {
  const first = errors?.[0] ?? {};
  const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'SERVER_ERROR';
  const field = typeof first.extensions?.field === 'string' ? first.extensions.field : undefined;
  return new ApiError(code, typeof first.message === 'string' ? first.message : 'the request failed', field);
}

/** Dispatched on window when the control plane refuses the session's token. */
export const SESSION_ENDED = 'tokengate:session-ended';

const printed = new WeakMap<object, string>();

function source(document: TadaDocumentNode<unknown, unknown>): string {
  let text = printed.get(document);
  if (!text) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

export async function request<Result, Variables>(
  document: TadaDocumentNode<Result, Variables>,
  ...[variables]: Variables extends Record<string, never> ? [] : [Variables]
): Promise<Result> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${readToken() ?? ''}` },
      body: JSON.stringify({ query: source(document as TadaDocumentNode<unknown, unknown>), variables: variables ?? {} }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError('NETWORK_ERROR', 'the control plane cannot be reached');
  }
  let body: { data?: Result | null; errors?: GraphQLErrorBody[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError('SERVER_ERROR', `unexpected response from the control plane (HTTP ${response.status})`);
  }
  if (body.errors?.length) {
    const error = errorFrom(body.errors);
    // The token was revoked or is no longer valid: the whole console must know, not only this screen.
    if (error.code === 'UNAUTHENTICATED') window.dispatchEvent(new CustomEvent(SESSION_ENDED, { detail: error }));
    throw error;
  }
  if (!body.data) throw new ApiError('SERVER_ERROR', 'empty response from the control plane');
  return body.data;
}

const ERROR_TITLES: Record<string, string> = {
  UNAUTHENTICATED: 'Your API token was not accepted',
  FORBIDDEN: 'Your role does not allow this',
  BAD_USER_INPUT: 'Please check the form',
  NOT_FOUND: 'Not found',
  CONFLICT: 'This clashes with what exists',
  NETWORK_ERROR: 'The control plane cannot be reached',
  SERVER_ERROR: 'Something went wrong on the server',
};

/** A heading in plain words for an error code; the server's message gives the detail. */
export function errorTitle(error: unknown): string {
  return error instanceof ApiError ? (ERROR_TITLES[error.code] ?? 'The request failed') : 'Something went wrong';
}

export function errorDetail(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'NETWORK_ERROR') return 'Check your connection, then retry.';
    if (error.code === 'UNAUTHENTICATED') return 'Check that you pasted the whole token: it may be mistyped, or revoked. Sign in with a valid API token.';
    const message = error.message.charAt(0).toUpperCase() + error.message.slice(1);
    return /[.!?]$/.test(message) ? message : `${message}.`;
  }
  return error instanceof Error ? error.message : String(error);
}
