/** Minimal `--flag value` / `--flag=value` / `--switch` parsing for the tokengate commands. */
export function parseFlags(argv: string[]): { positional: string[]; flags: Map<string, string | true> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    if (eq > 0) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags.set(arg.slice(2), argv[++i]);
    else flags.set(arg.slice(2), true);
  }
  return { positional, flags };
}

/** Maps CLI flags onto the environment variables the processes read (flags win). */
export function applyFlagsToEnv(flags: Map<string, string | true>, mapping: Record<string, string>, env: NodeJS.ProcessEnv = process.env): void {
  for (const [flag, variable] of Object.entries(mapping)) {
    const value = flags.get(flag);
    if (typeof value === 'string') env[variable] = value;
  }
}
