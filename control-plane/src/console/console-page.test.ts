import { Script } from 'node:vm';
import { consoleContentSecurityPolicy } from './console.router';
import { consoleDocument } from './console-page';
import { CONSOLE_SCRIPT } from './console-script';

describe('console assets', () => {
  it('the script is valid JavaScript as served (the String.raw template kept it intact)', () => {
    expect(() => new Script(CONSOLE_SCRIPT, { filename: 'console.js' })).not.toThrow();
  });

  it('the script never parses strings as HTML', () => {
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'localStorage']) {
      expect(CONSOLE_SCRIPT).not.toContain(sink);
    }
  });

  it('the document loads only same-origin assets under the mount path, with no inline script or style', () => {
    const html = consoleDocument('/console');
    expect(html).toContain('src="/console/console.js"');
    expect(html).toContain('href="/console/console.css"');
    expect(html).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('the policy allows this origin and its WebSocket only, and ignores a Host header that is not a host', () => {
    expect(consoleContentSecurityPolicy('127.0.0.1:4000')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' ws://127.0.0.1:4000 wss://127.0.0.1:4000; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(consoleContentSecurityPolicy('[::1]:4000')).toContain("connect-src 'self' ws://[::1]:4000 wss://[::1]:4000;");
    expect(consoleContentSecurityPolicy("evil.test; script-src *")).toContain("connect-src 'self';");
    expect(consoleContentSecurityPolicy(undefined)).toContain("connect-src 'self';");
  });
});
