// Browser support for the console tests: Debian's Chromium through playwright-core, an axe-core scan
// evaluated in the page (the CSP forbids script tags we did not serve), screenshots for review into
// test-results/console (ignored by git), and a record of requests, sockets, page errors and CSP reports.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type Gateway, startGateway } from '../support/gateway-harness';

export const SCREENSHOT_DIR = path.resolve(__dirname, '../../test-results/console');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface ConsoleBrowser {
  browser: Browser;
  open(origin: string, options?: { width?: number; height?: number }): Promise<ConsolePage>;
  close(): Promise<void>;
}

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  requests: string[];
  sockets: string[];
  pageErrors: string[];
  consoleErrors: string[];
  signIn(token: string): Promise<void>;
  /** Serious and critical axe violations of the page as it is now, as "rule: target" lines. */
  axe(): Promise<string[]>;
  /** Saves a full-page screenshot with the keys masked; returns the file. */
  screenshot(name: string): Promise<string>;
  /** The CSP refusals of the current document. */
  cspViolations(): Promise<string[]>;
  /** True when the document is wider than the viewport (sideways scrolling). */
  scrollsSideways(): Promise<boolean>;
}

export async function launchConsoleBrowser(): Promise<ConsoleBrowser> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async open(origin, { width = 1280, height = 900 } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
      contexts.push(context);
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
      context.setDefaultTimeout(30_000);
      const requests: string[] = [];
      const sockets: string[] = [];
      const pageErrors: string[] = [];
      const consoleErrors: string[] = [];
      context.on('request', (request) => void requests.push(request.url()));
      const page = await context.newPage();
      // Every CSP refusal, with where it came from (a console message alone does not say).
      await page.addInitScript("window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample));");
      page.on('websocket', (socket) => void sockets.push(socket.url()));
      page.on('pageerror', (error) => void pageErrors.push(error.message));
      page.on('console', (message) => void (message.type() === 'error' && consoleErrors.push(message.text())));
      return {
        page, context, requests, sockets, pageErrors, consoleErrors,
        async signIn(token) {
          await page.goto(`${origin}/console`);
          try {
            await page.getByRole('heading', { name: 'Sign in' }).waitFor();
          } catch (error) {
            // What the page was doing, so that a failure here says why the console did not show.
            const body = (await page.evaluate('document.body ? document.body.innerText : ""').catch(() => '')) as string;
            throw new Error(
              `${(error as Error).message}\npage errors: ${JSON.stringify(pageErrors)}\nconsole errors: ${JSON.stringify(consoleErrors)}\nrequests: ${JSON.stringify(requests.slice(-20))}\nbody: ${JSON.stringify(body.slice(0, 500))}`,
            );
          }
          await page.getByLabel('API token').fill(token);
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByRole('navigation', { name: 'Main' }).waitFor();
        },
        async axe() {
          if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
          const violations = await page.evaluate<Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>>(
            "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => ({ target: n.target })) })))",
          );
          return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
        },
        async screenshot(name) {
          const file = path.join(SCREENSHOT_DIR, `${name}.png`);
          await page.screenshot({ path: file, fullPage: true, mask: [page.locator('code.api-key')] });
          return file;
        },
        async cspViolations() {
          return page.evaluate<string[]>('window.__csp');
        },
        async scrollsSideways() {
          return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
        },
      };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
    },
  };
}

/** Every screen a journey shows: no serious or critical axe finding, nothing refused by the CSP, a screenshot. */
export async function expectClean(tab: ConsolePage, screen: string): Promise<void> {
  expect({ screen, violations: await tab.axe() }).toEqual({ screen, violations: [] });
  expect({ screen, csp: await tab.cspViolations() }).toEqual({ screen, csp: [] });
  await tab.screenshot(screen);
}

/** A journey's parties: a whole gateway (control plane with its rollout worker, a production proxy, wire-exact fake providers) and a browser. */
export interface ConsoleJourney {
  gw: Gateway;
  origin: string;
  browser: ConsoleBrowser;
}

export async function startConsoleJourney(): Promise<ConsoleJourney> {
  const gw = await startGateway({}, { TOKENGATE_INPROCESS_WORKER: 'true' });
  try {
    return { gw, origin: new URL(gw.cp.graphqlUrl).origin, browser: await launchConsoleBrowser() };
  } catch (error) {
    await gw.stop();
    throw error;
  }
}

export async function stopConsoleJourney(journey: Partial<ConsoleJourney>): Promise<void> {
  await journey.browser?.close();
  await journey.gw?.stop();
}
