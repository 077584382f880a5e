// A private Redis Cluster for tests: three masters (no replicas) on free ports, their files in a
// temporary folder, created with `redis-cli --cluster create` and ready once every node reports
// cluster_state:ok. stopNode()/startNode() kill and restart one master (empty, keeping its slots);
// stop() ends the servers (they are this process's children) and removes the folder.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { freePort } from './free-port';
import { waitFor } from './wait';

const run = promisify(execFile);
const MASTERS = 3;

export class PrivateRedisCluster {
  private readonly servers = new Map<number, ChildProcess>();

  private constructor(
    readonly ports: readonly number[],
    private readonly dir: string,
  ) {}

  /** Starts the nodes and creates the cluster; stops whatever started if that fails. */
  static async start(): Promise<PrivateRedisCluster> {
    const ports: number[] = [];
    while (ports.length < MASTERS) {
      const port = await clusterPort();
      if (!ports.includes(port)) ports.push(port);
    }
    const cluster = new PrivateRedisCluster(ports, mkdtempSync(join(tmpdir(), 'tokengate-redis-cluster-')));
    try {
      await cluster.create();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The Tokengate REDIS_URL of this cluster (every node listed as a seed). */
  get url(): string {
    return `redis+cluster://${this.ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
  }

  /** A plain ioredis Cluster client for the test's own checks; the caller disconnects it. */
  client(): Cluster {
    return new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })));
  }

  /** The port of the master serving `key` (CLUSTER KEYSLOT, then CLUSTER SLOTS). */
  async nodeOf(key: string): Promise<number> {
    const node = new Redis(this.ports[0], '127.0.0.1');
    try {
      const slot = Number(await node.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await node.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return Number(range[2][1]);
    } finally {
      node.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.stopNode(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Kills one master (SIGKILL): its slots are unserved until startNode(port). */
  async stopNode(port: number): Promise<void> {
    const server = this.servers.get(port);
    this.servers.delete(port);
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      server.once('exit', () => resolve());
      server.kill('SIGKILL');
    });
  }

  /** Starts a stopped master again on its port, empty (no persistence) but with its slots (nodes.conf). */
  async startNode(port: number): Promise<void> {
    await this.spawnNode(port);
    await this.waitUntilOk();
  }

  private async spawnNode(port: number): Promise<void> {
    const server = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--dir', this.dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.servers.set(port, server);
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 20, maxRetriesPerRequest: null, connectTimeout: 500 });
    try {
      await probe.connect().catch(() => undefined);
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  }

  private async create(): Promise<void> {
    for (const port of this.ports) await this.spawnNode(port);
    await run('redis-cli', ['--cluster', 'create', ...this.ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await this.waitUntilOk();
  }

  private async waitUntilOk(): Promise<void> {
    const nodes = this.ports.map((port) => new Redis(port, '127.0.0.1'));
    try {
      await waitFor(async () => {
        const infos = await Promise.all(nodes.map((node) => node.call('CLUSTER', 'INFO') as Promise<string>));
        return infos.every((info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${MASTERS}`));
      }, 'the Redis Cluster to be ok on every node', 30_000);
    } finally {
      for (const node of nodes) node.disconnect();
    }
  }
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await portIsFree(port + 10_000))) return port;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
