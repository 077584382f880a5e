// Bedrock's InvokeModelWithBidirectionalStream (HTTP/2, a request body that streams for the whole
// session) is not carried by the proxy: the SDK gets a prompt, clear exception instead of a hang.
import { BedrockRuntimeClient, InvokeModelWithBidirectionalStreamCommand, type InvokeModelWithBidirectionalStreamInput } from '@aws-sdk/client-bedrock-runtime';
import { type Gateway, startGateway } from '../support/gateway-harness';

let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw?.stop();
});

it('InvokeModelWithBidirectionalStream over HTTP/2 is refused at once (501, ValidationException), its endless body unread', async () => {
  // The SDK's defaults: NodeHttp2Handler, h2c towards the http:// proxy.
  const client = new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: 'us-east-1', token: { token: gw.services.bedrock.key }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
  let endSession: () => void = () => undefined;
  const sessionOver = new Promise<void>((resolve) => {
    endSession = resolve;
  });
  // A session's input: one event, then nothing until the session is over (as a voice app would).
  async function* input(): AsyncGenerator<InvokeModelWithBidirectionalStreamInput> {
    yield { chunk: { bytes: Buffer.from(JSON.stringify({ event: { sessionStart: { inferenceConfiguration: { maxTokens: 64 } } } })) } };
    await sessionOver;
  }
  const started = Date.now();
  try {
    const error = await client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId: 'amazon.nova-sonic-v1:0', body: input() })).then(
      () => { throw new Error('expected the call to fail'); },
      (caught: unknown) => caught as { name: string; message: string; $metadata?: { httpStatusCode?: number } },
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/InvokeModelWithBidirectionalStream is not supported through the Tokengate proxy/);
    expect(error.$metadata?.httpStatusCode).toBe(501);
    expect(gw.fakes.bedrock.received).toEqual([]);
  } finally {
    endSession();
    client.destroy();
  }
});

it('the refusal comes after authentication: a wrong key still gets 401 (AccessDeniedException)', async () => {
  const client = new BedrockRuntimeClient({ endpoint: gw.services.bedrock.endpoint, region: 'us-east-1', token: { token: 'tgk_wrong' }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1 });
  async function* input(): AsyncGenerator<InvokeModelWithBidirectionalStreamInput> {
    yield { chunk: { bytes: Buffer.from('{}') } };
  }
  try {
    const error = await client.send(new InvokeModelWithBidirectionalStreamCommand({ modelId: 'amazon.nova-sonic-v1:0', body: input() })).then(
      () => { throw new Error('expected the call to fail'); },
      (caught: unknown) => caught as { name: string; $metadata?: { httpStatusCode?: number } },
    );
    expect(error.name).toBe('AccessDeniedException');
    expect(error.$metadata?.httpStatusCode).toBe(401);
  } finally {
    client.destroy();
  }
});
