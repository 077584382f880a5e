import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764040000000 implements MigrationInterface {
  name = 'InitialSchema1764040000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL UNIQUE,
        name text NOT NULL,
        is_installation_admin boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE organizations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        handle text NOT NULL UNIQUE,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE projects (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        handle text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (organization_id, handle)
      );
      CREATE TABLE memberships (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('ADMIN', 'PLATFORM_ENGINEER', 'DEVELOPER')),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, organization_id)
      );
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        token_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE TABLE environments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        handle text NOT NULL UNIQUE,
        name text NOT NULL,
        proxy_url text NOT NULL,
        revision bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE genai_services (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        project_id uuid REFERENCES projects(id) ON DELETE CASCADE,
        scope text NOT NULL CHECK (scope IN ('ORGANIZATION', 'PROJECT')),
        provider text NOT NULL CHECK (provider IN ('OPENAI', 'AZURE_OPENAI', 'ANTHROPIC', 'MISTRAL', 'AWS_BEDROCK')),
        name text NOT NULL,
        context_path text NOT NULL,
        service_url text NOT NULL,
        summary text NOT NULL DEFAULT '',
        description text NOT NULL DEFAULT '',
        labels text[] NOT NULL DEFAULT '{}',
        marketplace_status text NOT NULL CHECK (marketplace_status IN ('PUBLISHED', 'REMOVED')),
        removed_at timestamptz,
        created_by uuid NOT NULL REFERENCES users(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (organization_id, context_path),
        CHECK ((scope = 'PROJECT') = (project_id IS NOT NULL))
      );
      CREATE INDEX genai_services_labels_idx ON genai_services USING gin (labels);
      CREATE TABLE service_environment_configs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        service_id uuid NOT NULL REFERENCES genai_services(id) ON DELETE CASCADE,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        auth_type text NOT NULL CHECK (auth_type IN ('API_KEY', 'AWS_SIGV4')),
        header_name text NOT NULL,
        credentials_sealed text,
        credentials_hint text,
        api_version text,
        aws_region text,
        rate_limit_time_unit text CHECK (rate_limit_time_unit IN ('MINUTE', 'HOUR', 'DAY')),
        max_prompt_tokens integer CHECK (max_prompt_tokens > 0),
        max_completion_tokens integer CHECK (max_completion_tokens > 0),
        max_total_tokens integer CHECK (max_total_tokens > 0),
        service_url text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (service_id, environment_id)
      );
      CREATE TABLE connections (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        organization_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
        project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        service_id uuid NOT NULL REFERENCES genai_services(id) ON DELETE CASCADE,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        created_by uuid NOT NULL REFERENCES users(id),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX connections_project_idx ON connections (project_id);
      CREATE INDEX connections_service_idx ON connections (service_id);
      CREATE TABLE connection_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        connection_id uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        key_hash text NOT NULL UNIQUE,
        key_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (connection_id, environment_id)
      );
      CREATE TABLE deployments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        service_id uuid NOT NULL REFERENCES genai_services(id) ON DELETE CASCADE,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        revision bigint NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'DEPLOYED', 'FAILED')),
        message text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (service_id, environment_id)
      );
      CREATE TABLE data_planes (
        id text PRIMARY KEY,
        environment_id uuid NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
        version text NOT NULL,
        applied_revision bigint NOT NULL DEFAULT 0,
        connected boolean NOT NULL DEFAULT false,
        last_nack_reason text,
        last_nack_revision bigint,
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        first_seen_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE audit_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        actor_user_id uuid NOT NULL REFERENCES users(id),
        organization_id uuid REFERENCES organizations(id) ON DELETE SET NULL,
        action text NOT NULL,
        target_type text NOT NULL,
        target_id text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX audit_events_org_idx ON audit_events (organization_id, created_at DESC);
    `);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      DROP TABLE audit_events, data_planes, deployments, connection_keys, connections,
        service_environment_configs, genai_services, environments, api_tokens, memberships,
        projects, organizations, users;
    `);
  }
}
