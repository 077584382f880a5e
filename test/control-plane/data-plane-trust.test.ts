// Data-plane trust per environment: installation admins issue each environment its own credential
// (stored hashed); a proxy presenting it receives that environment's configuration and no other, is
// disconnected when it is revoked, and mutual TLS between the planes admits only proxies with a
// client certificate of the configured CA.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { loadConfigServiceContract } from '../../data-plane/src/config-stream/config-proto';
import type { ControlPlaneMessage, DataPlaneMessage } from '../../data-plane/src/config-stream/wire-types';
import { connectDeltaPeer, type DeltaPeer } from '../config-stream/delta-peer';
import { seedEnvironments, seedTenant, startTestControlPlane, type Tenant, type TestControlPlane } from '../support/control-plane-harness';
import { freePort } from '../support/free-port';
import { runCli } from '../support/processes';
import { waitFor } from '../support/wait';

const ISSUE = 'mutation($e: String!, $n: String!) { issueDataPlaneCredential(environment: $e, name: $n) { token credential { id environment name tokenPrefix revokedAt } } }';
const REVOKE = 'mutation($id: ID!) { revokeDataPlaneCredential(id: $id) { id revokedAt } }';

describe('per-environment data-plane credentials', () => {
  let cp: TestControlPlane;
  let tenant: Tenant;
  const peers: DeltaPeer[] = [];

  beforeAll(async () => {
    cp = await startTestControlPlane();
    await seedEnvironments(cp);
    tenant = await seedTenant(cp, 'trust');
  });
  afterAll(async () => {
    for (const peer of peers) peer.close();
    await cp?.stop();
  });

  const peer = (token: string, environment: string, proxyId: string) => {
    const connected = connectDeltaPeer(cp.grpcAddress, token, { proxyId, environment });
    peers.push(connected);
    return connected;
  };

  async function issue(environment: string, name: string): Promise<{ token: string; credential: { id: string; environment: string; tokenPrefix: string } }> {
    const { issueDataPlaneCredential } = await cp.ok<{ issueDataPlaneCredential: { token: string; credential: { id: string; environment: string; tokenPrefix: string } } }>(ISSUE, { e: environment, n: name });
    return issueDataPlaneCredential;
  }

  it('a proxy presenting its environment’s credential gets that environment, and is refused another', async () => {
    const { token, credential } = await issue('production', 'production proxies');
    expect(credential).toMatchObject({ environment: 'production', tokenPrefix: token.slice(0, 12) });
    expect(token.startsWith('tgd_')).toBe(true);

    const own = peer(token, 'production', 'trusted-1');
    const first = await own.nth(0);
    expect(first.kind).toBe('snapshot');
    if (first.kind === 'snapshot') expect(first.snapshot.environment).toBe('production');

    const other = peer(token, 'development', 'trusted-2');
    await waitFor(() => other.error, 'the other environment to be refused');
    expect(other.error?.code).toBe(status.PERMISSION_DENIED);
    expect(other.error?.details).toContain('this data-plane credential is for environment "production", not "development"');
    expect(other.received).toEqual([]);

    const forged = peer(`tgd_${'x'.repeat(32)}`, 'production', 'forged');
    await waitFor(() => forged.error, 'an unknown credential to be refused');
    expect(forged.error?.code).toBe(status.UNAUTHENTICATED);
    expect(forged.received).toEqual([]);

    // The installation-wide token still opens every environment.
    const installation = peer(cp.dataPlaneToken, 'development', 'installation-wide');
    expect((await installation.nth(0)).kind).toBe('snapshot');
  });

  it('stores only the hash, shows the prefix, and lets only installation admins issue, list or revoke', async () => {
    const { token, credential } = await issue('development', 'dev proxies');
    const db = new PgClient({ connectionString: cp.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ token_hash: string; token_prefix: string }>('SELECT token_hash, token_prefix FROM data_plane_credentials WHERE id = $1', [credential.id]);
      expect(rows).toEqual([{ token_hash: createHash('sha256').update(token).digest('hex'), token_prefix: token.slice(0, 12) }]);
      const everything = JSON.stringify((await db.query('SELECT * FROM data_plane_credentials')).rows) + JSON.stringify((await db.query('SELECT * FROM audit_events')).rows);
      expect(everything).not.toContain(token);
    } finally {
      await db.end();
    }
    for (const caller of [tenant.tokens.admin, tenant.tokens.engineer]) {
      expect((await cp.gql(ISSUE, { e: 'development', n: 'mine' }, caller)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await cp.gql(REVOKE, { id: credential.id }, caller)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await cp.gql('{ dataPlaneCredentials { id } }', {}, caller)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const { dataPlaneCredentials } = await cp.ok<{ dataPlaneCredentials: Array<{ id: string; tokenPrefix: string }> }>('query { dataPlaneCredentials(environment: "development") { id tokenPrefix } }');
    expect(dataPlaneCredentials).toEqual([{ id: credential.id, tokenPrefix: token.slice(0, 12) }]);
    expect((await cp.gql(ISSUE, { e: 'staging', n: 'x' })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a revoked credential is refused, and the proxies connected with it are disconnected', async () => {
    const { token, credential } = await issue('production', 'to revoke');
    const connected = peer(token, 'production', 'revoked-1');
    await connected.nth(0);
    const { revokeDataPlaneCredential } = await cp.ok<{ revokeDataPlaneCredential: { revokedAt: string | null } }>(REVOKE, { id: credential.id });
    expect(revokeDataPlaneCredential.revokedAt).not.toBeNull();
    await waitFor(() => connected.error, 'the connected proxy to be disconnected');
    expect(connected.error?.code).toBe(status.UNAUTHENTICATED);
    const again = peer(token, 'production', 'revoked-2');
    await waitFor(() => again.error, 'the revoked credential to be refused');
    expect(again.error?.code).toBe(status.UNAUTHENTICATED);
  });
});

describe('mutual TLS between the planes', () => {
  let dir: string;
  let cp: TestControlPlane;

  /** A CA, a server certificate for 127.0.0.1/localhost, and a client certificate, all signed by that CA; and an impostor client signed by another CA. */
  function makeCertificates(): void {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    for (const ca of ['ca', 'rogue-ca']) {
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=Tokengate test ${ca}`, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`);
    }
    const leaf = (name: string, ca: string, extensions: string) => {
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`);
      execFileSync('sh', ['-c', `printf '%s\\n' '${extensions}' > ${name}.ext`], { cwd: dir });
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}-key.pem`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
    };
    leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
    leaf('client', 'ca', 'extendedKeyUsage=clientAuth');
    leaf('impostor', 'rogue-ca', 'extendedKeyUsage=clientAuth');
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tokengate-mtls-'));
    makeCertificates();
    cp = await startTestControlPlane({
      TOKENGATE_GRPC_TLS_CERT: path.join(dir, 'server.pem'),
      TOKENGATE_GRPC_TLS_KEY: path.join(dir, 'server-key.pem'),
      TOKENGATE_GRPC_TLS_CLIENT_CA: path.join(dir, 'ca.pem'),
    });
    await seedEnvironments(cp);
  });
  afterAll(async () => {
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a stream over TLS with the given client certificate (or none): the first config message, or the error. */
  function subscribe(client: 'client' | 'impostor' | null): Promise<ControlPlaneMessage | ServiceError> {
    const read = (file: string) => readFileSync(path.join(dir, file));
    const tls = credentials.createSsl(read('ca.pem'), client ? read(`${client}-key.pem`) : null, client ? read(`${client}.pem`) : null);
    const method = loadConfigServiceContract().streamConfig;
    const grpc = new Client(`127.0.0.1:${cp.grpcAddress.split(':').pop()}`, tls);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${cp.dataPlaneToken}`);
    const stream = grpc.makeBidiStreamRequest<DataPlaneMessage, ControlPlaneMessage>(method.path, method.serializeRequest, method.deserializeResponse, metadata);
    return new Promise((resolve) => {
      stream.on('data', (message: ControlPlaneMessage) => {
        resolve(message);
        stream.cancel();
        grpc.close();
      });
      stream.on('error', (error: ServiceError) => {
        resolve(error);
        grpc.close();
      });
      stream.write({ hello: { proxy_id: `mtls-${client ?? 'none'}`, environment: 'production', version: 'test', last_applied_revision: '0', accepts_deltas: true } });
    });
  }

  it('admits a proxy with a client certificate of the configured CA, and refuses one without or from another CA', async () => {
    const trusted = await subscribe('client');
    expect('snapshot' in trusted && trusted.snapshot?.environment).toBe('production');
    for (const client of [null, 'impostor'] as const) {
      const refused = await subscribe(client);
      expect('code' in refused && refused.code).toBe(status.UNAVAILABLE);
    }
  });

  it('a `tokengate data-plane` given the documented flags gets its configuration over mutual TLS; without its certificate it stays not ready', async () => {
    const start = async (flags: string[]) => {
      const port = await freePort();
      const proxy = runCli(['data-plane', '--environment', 'production', '--port', String(port), '--control-plane', `localhost:${cp.grpcAddress.split(':').pop()}`, '--control-plane-ca', path.join(dir, 'ca.pem'), ...flags], {
        TOKENGATE_DATAPLANE_TOKEN: cp.dataPlaneToken,
        TOKENGATE_REDIS_NAMESPACE: cp.redisNamespace,
        TOKENGATE_LOG_LEVEL: 'info',
      });
      const ready = async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status;
      return { proxy, ready };
    };
    const trusted = await start(['--control-plane-cert', path.join(dir, 'client.pem'), '--control-plane-key', path.join(dir, 'client-key.pem')]);
    const anonymous = await start([]);
    try {
      await waitFor(async () => (await trusted.ready()) === 200, 'the proxy with a client certificate to apply its snapshot', 30_000);
      await waitFor(async () => (await anonymous.ready()) === 503, 'the proxy without one to listen');
      // Refused at the TLS handshake, it keeps retrying and never gets a snapshot.
      await anonymous.proxy.waitFor(/config stream closed/);
      expect(await anonymous.ready()).toBe(503);
    } finally {
      await trusted.proxy.stop('SIGKILL');
      await anonymous.proxy.stop('SIGKILL');
    }
  });
});
