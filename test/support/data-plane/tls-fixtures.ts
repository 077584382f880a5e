// A self-signed certificate for localhost/127.0.0.1 (valid until 2126), its own CA, for tests only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const TEST_TLS = {
  cert: readFileSync(join(__dirname, 'tls', 'localhost-cert.pem')),
  key: readFileSync(join(__dirname, 'tls', 'localhost-key.pem')),
};
