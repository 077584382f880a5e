// Re-seals stored provider credentials with the current key (`tokengate rotate-secret-key`), so a
// key can leave TOKENGATE_PREVIOUS_SECRET_KEYS once nothing is sealed with it any more.
import type { DataSource } from 'typeorm';
import { SecretBox, type SecretKey } from './secret-box';

/** One stored ciphertext and, for messages, whose it is (never its plaintext). */
export interface SealedSecret {
  id: string;
  sealed: string;
  /** e.g. `service acme/openai in environment production` */
  owner: string;
}

export interface ReEncryptionPlan {
  currentKeyId: string;
  /** New ciphertexts for the secrets not yet sealed with the current key. */
  resealed: Array<{ id: string; sealed: string }>;
  /** How many of `resealed` each older key had sealed. */
  resealedFrom: Map<string, number>;
  alreadyCurrent: number;
  /** Configured previous keys: once the plan is applied, nothing stored needs them. */
  droppableKeyIds: string[];
}

/** Some secrets cannot be re-encrypted; the message names each one and why, never a secret. */
export class ReEncryptionError extends Error {
  override name = 'ReEncryptionError';
}

const MAX_OWNERS_LISTED = 10;

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function listOwners(owners: string[]): string {
  const shown = owners.slice(0, MAX_OWNERS_LISTED).join(', ');
  return owners.length > MAX_OWNERS_LISTED ? `${shown} and ${owners.length - MAX_OWNERS_LISTED} more` : shown;
}

/**
 * Decides what re-encryption does, without touching storage. Throws ReEncryptionError (naming every
 * secret concerned) when any secret cannot be opened, so that callers change nothing at all.
 * `keys` is what parseSecretKeys returns: the current key first.
 */
export function planReEncryption(secrets: SealedSecret[], keys: SecretKey[]): ReEncryptionPlan {
  const box = new SecretBox(keys);
  const currentKeyId = box.currentKeyId;
  const configured = new Set(keys.map((k) => k.id));
  const plan: ReEncryptionPlan = {
    currentKeyId,
    resealed: [],
    resealedFrom: new Map(),
    alreadyCurrent: 0,
    droppableKeyIds: [...configured].filter((id) => id !== currentKeyId),
  };
  const missingKeys = new Map<string, string[]>();
  const unreadable: string[] = [];
  for (const secret of secrets) {
    const keyId = SecretBox.keyIdOf(secret.sealed);
    if (!secret.sealed.startsWith('v1:')) {
      unreadable.push(`${secret.owner}: the stored value is not in a known sealed format`);
    } else if (keyId === currentKeyId) {
      plan.alreadyCurrent++;
    } else if (!configured.has(keyId)) {
      missingKeys.set(keyId, [...(missingKeys.get(keyId) ?? []), secret.owner]);
    } else {
      let plaintext: string;
      try {
        plaintext = box.open(secret.sealed);
      } catch (error) {
        // Crypto errors say "unable to authenticate data" and the like: no secret material.
        unreadable.push(`${secret.owner}: sealed with key ${keyId} but does not decrypt (${(error as Error).message})`);
        continue;
      }
      plan.resealed.push({ id: secret.id, sealed: box.seal(plaintext) });
      plan.resealedFrom.set(keyId, (plan.resealedFrom.get(keyId) ?? 0) + 1);
    }
  }
  const problems = [
    ...[...missingKeys].map(
      ([keyId, owners]) =>
        `${plural(owners.length, 'provider secret')} sealed with key ${keyId}, which is not configured ` +
        `(add that key to TOKENGATE_PREVIOUS_SECRET_KEYS and run again): ${listOwners(owners)}`,
    ),
    ...unreadable,
  ];
  if (problems.length) throw new ReEncryptionError(problems.join('\n'));
  return plan;
}

/** The one-line report of a run (`dryRun`: of what a run would do). Key ids only, never key material. */
export function describeReEncryption(plan: ReEncryptionPlan, dryRun: boolean): string {
  const count = plan.resealed.length;
  const from = [...plan.resealedFrom].map(([keyId, n]) => `${keyId}: ${n}`).join(', ');
  const fromText = count ? ` (from key${plan.resealedFrom.size === 1 ? '' : 's'} ${from})` : '';
  const droppable = plan.droppableKeyIds.length ? plan.droppableKeyIds.join(', ') : 'none';
  const what = `${plural(count, 'provider secret')} with key ${plan.currentKeyId}${fromText}; ${plan.alreadyCurrent} already current`;
  return dryRun
    ? `dry run, nothing changed: would re-encrypt ${what}; TOKENGATE_PREVIOUS_SECRET_KEYS could then drop keys: ${droppable}`
    : `re-encrypted ${what}; TOKENGATE_PREVIOUS_SECRET_KEYS may now drop keys: ${droppable}`;
}

interface SealedRow {
  id: string;
  sealed: string;
  organization: string;
  context_path: string;
  environment: string;
}

/**
 * Re-seals every stored provider credential not sealed with the current key. The only column holding
 * SecretBox output is service_environment_configs.credentials_sealed (test/cli/rotate-secret-key.test.ts
 * scans the schema for others).
 *
 * One transaction for the whole run, not one per batch: the rows are one per service and environment
 * (thousands at most, milliseconds of AES work), and all-or-nothing keeps the outcome simple — a secret
 * that cannot be opened anywhere means nothing changed, and re-running is always safe.
 *
 * `FOR UPDATE OF c` makes control-plane writes and this run serialize per row: a write committed
 * before our lock is what we re-seal (we read the latest committed value); a later write waits for our
 * commit and then stores its own value, sealed with its control plane's current key. Hence control
 * planes must run with the new key as current before this runs (a second run catches stragglers).
 * Neither updated_at nor environment revisions change: the plaintext, hence every snapshot, is the same.
 */
export async function reEncryptSecrets(db: DataSource, keys: SecretKey[], options: { dryRun: boolean }): Promise<ReEncryptionPlan> {
  return db.transaction(async (tx) => {
    const rows = (await tx.query(
      `SELECT c.id, c.credentials_sealed AS sealed, o.handle AS organization, s.context_path, e.handle AS environment
         FROM service_environment_configs c
         JOIN genai_services s ON s.id = c.service_id
         JOIN organizations o ON o.id = s.organization_id
         JOIN environments e ON e.id = c.environment_id
        WHERE c.credentials_sealed IS NOT NULL
        ORDER BY c.id
        ${options.dryRun ? '' : 'FOR UPDATE OF c'}`,
    )) as SealedRow[];
    const plan = planReEncryption(
      rows.map((row) => ({ id: row.id, sealed: row.sealed, owner: `service ${row.organization}${row.context_path} in environment ${row.environment}` })),
      keys,
    );
    if (!options.dryRun && plan.resealed.length) {
      await tx.query(
        `UPDATE service_environment_configs c SET credentials_sealed = r.sealed
           FROM unnest($1::uuid[], $2::text[]) AS r(id, sealed)
          WHERE c.id = r.id`,
        [plan.resealed.map((r) => r.id), plan.resealed.map((r) => r.sealed)],
      );
    }
    return plan;
  });
}
