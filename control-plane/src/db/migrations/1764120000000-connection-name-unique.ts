import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A connection's name is unique within its project (createConnection answers CONFLICT, `tokengate
 * apply` matches connections by project and name), but only a read-then-insert checked it: concurrent
 * creations with one name all succeeded. The unique index makes the database the judge; the service
 * already maps its violation to CONFLICT. Duplicates an earlier version let in keep their oldest
 * holder's name; each later one gets its id's first 8 characters appended (within the 120-character
 * name limit), so the index can be built and every connection stays findable.
 */
export class ConnectionNameUnique1764120000000 implements MigrationInterface {
  name = 'ConnectionNameUnique1764120000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      UPDATE connections c
         SET name = left(c.name, 109) || ' (' || left(c.id::text, 8) || ')'
        FROM (SELECT id, row_number() OVER (PARTITION BY project_id, name ORDER BY created_at, id) AS n FROM connections) d
       WHERE c.id = d.id AND d.n > 1;
      CREATE UNIQUE INDEX connections_project_name_key ON connections (project_id, name);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP INDEX connections_project_name_key');
  }
}
