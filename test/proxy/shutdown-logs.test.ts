// A proxy stopped soon after it started (Ctrl-C on `npm start`) says it is shutting down, and warns
// of nothing: the tokenizer warm-up its first snapshot began is cut short by the shutdown, not failed.
import { pino } from 'pino';
import { type Gateway, startGateway } from '../support/gateway-harness';

describe('a proxy stopped while its tokenizer warms up', () => {
  let gateway: Gateway;

  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('logs no warning', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    // Ready once it applied the snapshot whose services start the warm-up; closed at once.
    const proxy = await gateway.startProxy({ logger });
    await proxy.close();
    expect(lines.map((l) => l.msg)).toContain('data-plane proxy shutting down');
    expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
  });
});
