/** A configuration problem the operator must fix; its message says what and how. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * A listener's address already taken (another Tokengate, or anything else) is the operator's to fix:
 * say which address, which variable moves it, and the likely cause. Other errors pass through.
 */
export function listenError(error: unknown, what: string, address: string, variable: string): unknown {
  const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' || /EADDRINUSE/.test(String((error as Error).message));
  if (!inUse) return error;
  return new ConfigError(`cannot listen on ${address} for ${what}: the address is in use (is Tokengate already running?); stop what holds it or set ${variable}`);
}
