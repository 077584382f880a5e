// The two planes read REDIS_URL with parsers of their own (they share no code but the proto): the same
// URL must mean the same Redis to both, and both must refuse the same mistakes.
import { parseRedisUrl as controlPlaneParse } from '../../control-plane/src/common/redis-connection';
import { parseRedisUrl as dataPlaneParse } from '../../data-plane/src/redis/redis-connection';

const URLS = [
  'redis://127.0.0.1:6379',
  'rediss://:pw@redis.example:6380/2',
  'redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002',
  'rediss+cluster://app:p%40ss@[::1]:7000,redis-1',
  'REDIS+CLUSTER://redis-0:7000/',
  'redis+cluster://redis-0:7000/1',
  'redis+cluster://redis-0:7000?tls=true',
  'redis+cluster://redis-0:0',
  'redis+cluster://redis-0:7000,,redis-1',
  'redis+cluster://',
  'redis://:pw@redis-0:7000,redis-1:7001',
];

function outcome(parse: (url: string) => unknown, url: string): unknown {
  try {
    return parse(url);
  } catch (error) {
    return { refused: (error as Error).message };
  }
}

it.each(URLS)('%s means the same to both planes', (url) => {
  expect(outcome(controlPlaneParse, url)).toEqual(outcome(dataPlaneParse, url));
});
