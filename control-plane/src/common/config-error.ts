/** A configuration problem the operator must fix; its message says what and how. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
