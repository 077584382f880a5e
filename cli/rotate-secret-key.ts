// `tokengate rotate-secret-key [--dry-run]`: re-encrypts every stored provider credential with the
// current TOKENGATE_SECRET_KEY so older keys can leave TOKENGATE_PREVIOUS_SECRET_KEYS.
// Exit codes: 0 done (or nothing to do), 1 nothing changed because of a problem, 2 usage error.
import { ConfigError, DEFAULT_DATABASE_URL } from '../control-plane/src/config';
import { createDataSource } from '../control-plane/src/db/data-source';
import { ReEncryptionError, describeReEncryption, reEncryptSecrets } from '../control-plane/src/secrets/re-encrypt';
import { type SecretKey, parseSecretKeys } from '../control-plane/src/secrets/secret-box';
import { type CommandOutput, EXIT_API_ERROR, EXIT_OK, EXIT_USAGE, PROCESS_OUTPUT } from './apply/apply';
import { parseFlags } from './args';
import { checkDependencies } from './preflight';
import { ROTATE_SECRET_KEY_USAGE } from './rotate-secret-key-usage';

export { ROTATE_SECRET_KEY_USAGE } from './rotate-secret-key-usage';

const PREFIX = 'tokengate rotate-secret-key:';

class UsageError extends Error {}

function parseArgs(argv: string[]): { dryRun: boolean; databaseUrl: string | undefined } {
  const { positional, flags } = parseFlags(argv);
  const dryRun = flags.get('dry-run');
  const databaseUrl = flags.get('database-url');
  // A mistyped --dry-run must not rotate for real: anything unknown is refused.
  const unexpected = [...positional, ...[...flags.keys()].filter((f) => f !== 'dry-run' && f !== 'database-url').map((f) => `--${f}`)];
  if (dryRun !== undefined && dryRun !== true) unexpected.push(dryRun);
  if (databaseUrl === true) unexpected.push('--database-url without a value');
  if (unexpected.length > 0) throw new UsageError(`unexpected argument ${unexpected[0]}; usage:\n${ROTATE_SECRET_KEY_USAGE}`);
  return { dryRun: dryRun === true, databaseUrl: typeof databaseUrl === 'string' ? databaseUrl : undefined };
}

/**
 * Reads the control plane's variables (DATABASE_URL, TOKENGATE_SECRET_KEY, TOKENGATE_PREVIOUS_SECRET_KEYS)
 * and returns the exit code. Prints key ids and counts only: never a key, a secret or a ciphertext.
 */
export async function runRotateSecretKey(argv: string[], env: NodeJS.ProcessEnv = process.env, output: CommandOutput = PROCESS_OUTPUT): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    output.out(`usage:\n${ROTATE_SECRET_KEY_USAGE}`);
    return EXIT_OK;
  }
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (error) {
    output.err(`${PREFIX} ${(error as Error).message}`);
    return EXIT_USAGE;
  }
  let keys: SecretKey[];
  try {
    // Unlike the control plane, no fallback to the development key even in development mode:
    // re-encrypting everything with a public key would be a rotation in the wrong direction.
    if (!env.TOKENGATE_SECRET_KEY) throw new ConfigError('TOKENGATE_SECRET_KEY is not set: it is the key to re-encrypt with (`openssl rand -base64 32`)');
    keys = parseSecretKeys(env.TOKENGATE_SECRET_KEY, env.TOKENGATE_PREVIOUS_SECRET_KEYS, false);
  } catch (error) {
    output.err(`${PREFIX} ${(error as Error).message}`);
    return EXIT_API_ERROR;
  }
  const databaseUrl = args.databaseUrl || env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const problems = await checkDependencies(databaseUrl, null);
  if (problems.length) {
    output.err(`${PREFIX} ${problems.join('\n')}`);
    return EXIT_API_ERROR;
  }
  const db = createDataSource(databaseUrl, 1);
  try {
    await db.initialize();
  } catch (error) {
    output.err(`${PREFIX} cannot open the database: ${(error as Error).message}`);
    return EXIT_API_ERROR;
  }
  try {
    const plan = await reEncryptSecrets(db, keys, { dryRun: args.dryRun });
    output.out(describeReEncryption(plan, args.dryRun));
    return EXIT_OK;
  } catch (error) {
    if (error instanceof ReEncryptionError) output.err(`${PREFIX} nothing was changed:\n${error.message}`);
    else output.err(`${PREFIX} failed (the run is one transaction; running it again is safe): ${(error as Error).message}`);
    return EXIT_API_ERROR;
  } finally {
    await db.destroy();
  }
}
