// Two tiers, one npm script each: unit tests live beside the code, tests spanning
// processes (control plane + Postgres + Redis + proxy + fake providers + SDKs) under test/.
// Both run two files at a time (package.json, --maxWorkers=2; jest's default on two cores is one):
// each e2e file has its own database (cloned from a migrated template), Redis namespace, ports and
// fakes, and a test that stops Redis runs its own redis-server, so files never share state.
const fs = require('node:fs');
const swcConfig = JSON.parse(fs.readFileSync(`${__dirname}/.swcrc`, 'utf8'));
delete swcConfig.$schema;
const transform = { '^.+\\.ts$': ['@swc/jest', swcConfig] };

/** @type {import('jest').Config} */
module.exports = {
  // Safety net only: e2e tests start processes and servers; none waits on a timer to pass.
  testTimeout: 60_000,
  projects: [
    {
      displayName: 'unit',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/control-plane/src/**/*.test.ts', '<rootDir>/data-plane/src/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
    {
      displayName: 'e2e',
      transform,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
    },
  ],
};
