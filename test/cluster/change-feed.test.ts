// Pub/sub between control-plane replicas and workers on a Redis Cluster (three masters started by
// the test): a change announced by one replica reaches the other's listeners, and deployment events
// reach every subscriber, whichever nodes their clients talk to (cluster PUBLISH reaches them all).
import { pino } from 'pino';
import { RedisChangeFeed, type ConfigChange } from '../../control-plane/src/config-change/redis-change-feed';
import { DeploymentEvents } from '../../control-plane/src/deployment/deployment-events';
import { PrivateRedisCluster } from '../support/redis-cluster';
import { waitFor } from '../support/wait';

const logger = pino({ level: 'silent' });
const namespace = `tg-cluster-feed-${process.pid}`;
let cluster: PrivateRedisCluster;
const feeds: RedisChangeFeed[] = [];
const events: DeploymentEvents[] = [];

beforeAll(async () => {
  cluster = await PrivateRedisCluster.start();
});
afterAll(async () => {
  await Promise.all(feeds.map((feed) => feed.stop()));
  for (const e of events) e.close();
  await cluster?.stop();
});

it('a change announced by one replica reaches the listeners of every replica', async () => {
  const replicas = [0, 1, 2].map(() => new RedisChangeFeed(cluster.url, namespace, logger));
  feeds.push(...replicas);
  const heard: ConfigChange[][] = replicas.map(() => []);
  replicas.forEach((replica, i) => replica.onChange((change) => heard[i].push(change)));
  await Promise.all(replicas.map((replica) => replica.start()));

  await replicas[0].announce('production', 7, 'svc-a');
  await replicas[2].announce('development', 3, 'svc-b');
  await replicas[1].announce('production', 8, 'svc-c');
  // The announcing replica hears its own change at once (directly) and ignores its echo through Redis:
  // once every replica has heard all three, each has heard each exactly once.
  const names = (changes: ConfigChange[]) => changes.map((change) => `${change.environment}@${change.revision}/${change.serviceId}`);
  await waitFor(() => heard.every((changes) => new Set(names(changes)).size === 3), 'every replica to hear every change');
  for (const changes of heard) expect(names(changes).sort()).toEqual(['development@3/svc-b', 'production@7/svc-a', 'production@8/svc-c']);
});

it('proxy reports published by a control plane wake the subscribers of a worker', async () => {
  const controlPlane = new DeploymentEvents(cluster.url, namespace, logger);
  const worker = new DeploymentEvents(cluster.url, namespace, logger);
  events.push(controlPlane, worker);
  const reports: string[] = [];
  await worker.proxyReports.subscribe(({ environment }) => reports.push(environment));
  await controlPlane.proxyReports.publish({ environment: 'production' });
  await waitFor(() => reports.length === 1, 'the proxy report to arrive');
  expect(reports).toEqual(['production']);
});
