// Real-PostgreSQL test isolation: migrations run once into a template database (named after a hash
// of the migrations, so concurrent and repeated runs share it safely); each test file clones it.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createDataSource } from '../../control-plane/src/db/data-source';

export const TEST_SERVER_URL = process.env.TOKENGATE_TEST_DATABASE_SERVER ?? 'postgres://postgres@127.0.0.1:5432';

function migrationsHash(): string {
  const dir = join(__dirname, '../../control-plane/src/db/migrations');
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).sort()) hash.update(file).update(readFileSync(join(dir, file)));
  return hash.digest('hex').slice(0, 12);
}

export function templateDatabaseName(): string {
  return `tokengate_test_template_${migrationsHash()}`;
}

async function withAdminClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: `${TEST_SERVER_URL}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function prepareTemplateDatabase(): Promise<void> {
  const template = templateDatabaseName();
  await withAdminClient(async (client) => {
    await client.query('SELECT pg_advisory_lock(727274)');
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount) return;
      await client.query(`CREATE DATABASE "${template}_wip"`).catch(async () => {
        await client.query(`DROP DATABASE "${template}_wip"`);
        await client.query(`CREATE DATABASE "${template}_wip"`);
      });
      const db = createDataSource(`${TEST_SERVER_URL}/${template}_wip`, 1);
      await db.initialize();
      await db.runMigrations({ transaction: 'each' });
      await db.destroy();
      await client.query(`ALTER DATABASE "${template}_wip" RENAME TO "${template}"`);
    } finally {
      await client.query('SELECT pg_advisory_unlock(727274)');
    }
  });
}

/** A fresh, migrated database for one test file. Returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tokengate_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDatabaseName()}"`));
  return {
    url: `${TEST_SERVER_URL}/${name}`,
    drop: () => withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
