#!/usr/bin/env node
// Creates the environments that data-plane proxies serve, through the control plane's GraphQL API.
// A control plane creates none by itself (only `tokengate start` does), and a proxy whose environment
// is unknown is refused by the config stream and never becomes ready. Idempotent: an environment that
// already exists is left as it is.
//
//   TOKENGATE_ADMIN_TOKEN=… node deploy/create-environments.mjs <graphql-url> <handle>=<proxy-url>…
//
// It waits for the control plane to answer (up to WAIT_MS), so it may start alongside it.

const WAIT_MS = 300_000;
const RETRY_MS = 2_000;
const USAGE = 'usage: TOKENGATE_ADMIN_TOKEN=<token> node create-environments.mjs <graphql-url> <handle>=<proxy-url>...';

class Unreachable extends Error {}

function fail(message, code = 1) {
  console.error(`create-environments: ${message}`);
  process.exit(code);
}

function parseArguments(argv) {
  const [graphqlUrl, ...specs] = argv;
  if (!graphqlUrl || specs.length === 0) fail(USAGE, 2);
  const environments = specs.map((spec) => {
    const equals = spec.indexOf('=');
    if (equals <= 0) fail(`"${spec}" is not <handle>=<proxy-url>\n${USAGE}`, 2);
    const handle = spec.slice(0, equals);
    return { handle, name: handle.charAt(0).toUpperCase() + handle.slice(1), proxyUrl: spec.slice(equals + 1) };
  });
  return { graphqlUrl, environments };
}

async function graphql(url, token, query, variables) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new Unreachable(`${url} is not reachable (${error.cause?.code ?? error.message})`);
  }
  if (response.status >= 500) throw new Unreachable(`${url} answered HTTP ${response.status}`);
  const body = await response.json().catch(() => null);
  if (body === null) throw new Error(`${url} answered HTTP ${response.status} without a JSON body`);
  return body;
}

async function untilReachable(call) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof Unreachable) || Date.now() >= deadline) throw error;
      console.error(`create-environments: ${error.message}; retrying`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

function errorsOf(body) {
  return (body.errors ?? []).map((e) => `${e.message} (${e.extensions?.code ?? 'no code'})`).join('; ');
}

async function main() {
  const { graphqlUrl, environments } = parseArguments(process.argv.slice(2));
  const token = process.env.TOKENGATE_ADMIN_TOKEN;
  if (!token) fail('TOKENGATE_ADMIN_TOKEN is not set (the bootstrap admin token of the control plane)', 2);

  const listed = await untilReachable(() => graphql(graphqlUrl, token, '{ environments { handle proxyUrl } }', {}));
  if (!listed.data) fail(`listing environments failed: ${errorsOf(listed)}`);
  const existing = new Map(listed.data.environments.map((e) => [e.handle, e.proxyUrl]));

  for (const environment of environments) {
    if (existing.has(environment.handle)) {
      const note = existing.get(environment.handle) === environment.proxyUrl ? '' : ` (its proxy URL stays ${existing.get(environment.handle)})`;
      console.log(`environment ${environment.handle} exists${note}`);
      continue;
    }
    const created = await untilReachable(() =>
      graphql(graphqlUrl, token, 'mutation ($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { handle proxyUrl } }', { input: environment }),
    );
    // Another runner may have created it meanwhile: that is what we wanted.
    if (created.errors?.length && created.errors.every((e) => e.extensions?.code === 'CONFLICT')) {
      console.log(`environment ${environment.handle} exists`);
      continue;
    }
    if (!created.data) fail(`creating environment ${environment.handle} failed: ${errorsOf(created)}`);
    console.log(`environment ${environment.handle} created (proxy URL ${created.data.createEnvironment.proxyUrl})`);
  }
}

main().catch((error) => fail(error.message));
