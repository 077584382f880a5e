// Consumer keys as issued: shown once, copyable, focused on arrival. They live only in the React state
// of the screen that received them, so leaving the screen (or the page) drops them.
import { useEffect } from 'react';
import { Button } from 'react-aria-components';
import { CopyButton, useFocusOnMount } from './controls';

export interface IssuedKey { environment: string; apiKey: string; endpointUrl: string; usageSnippet?: string | null }

export function IssuedKeys({ title, keys, onDismiss }: { title: string; keys: readonly IssuedKey[]; onDismiss(): void }) {
  const heading = useFocusOnMount<HTMLHeadingElement>();
  // One key (a rotation, a service with one environment) is "the key", not "the keys".
  const one = keys.length === 1;
  // bfcache: a page restored from history must not show keys again.
  useEffect(() => {
    window.addEventListener('pagehide', onDismiss);
    return () => window.removeEventListener('pagehide', onDismiss);
  }, [onDismiss]);
  return (
    <section className="keys" aria-labelledby="issued-keys-title" data-issued-keys="">
      <h2 id="issued-keys-title" tabIndex={-1} ref={heading}>{title}</h2>
      <p><strong>{one ? 'Copy the key now: it is shown once and this page does not keep it.' : 'Copy the keys now: they are shown once and this page does not keep them.'}</strong></p>
      {keys.length === 0 ? <p className="muted">No environment is configured, so no key was issued.</p> : null}
      {keys.map((k) => (
        <div className="issued" key={k.environment} data-environment={k.environment}>
          <h3>{k.environment}</h3>
          <dl className="pairs">
            <dt>Consumer key</dt>
            <dd><code className="api-key">{k.apiKey}</code> <CopyButton text={k.apiKey} label={`Copy the ${k.environment} key`} className="copy-key" /></dd>
            <dt>Endpoint URL</dt>
            <dd><code className="endpoint">{k.endpointUrl}</code> <CopyButton text={k.endpointUrl} label={`Copy the ${k.environment} endpoint URL`} className="copy-endpoint" /></dd>
          </dl>
          {k.usageSnippet ? <Snippet environment={k.environment} code={k.usageSnippet} /> : null}
        </div>
      ))}
      <Button className="button" onPress={() => {
        onDismiss();
        // The panel (and this button) goes away: back to the screen's heading rather than the top of the document.
        requestAnimationFrame(() => document.querySelector<HTMLElement>('main h1')?.focus());
      }}>{one ? 'I have copied the key' : 'I have copied the keys'}</Button>
    </section>
  );
}

export function Snippet({ environment, code }: { environment: string; code: string }) {
  return (
    <details className="snippet" data-environment={environment}>
      <summary>How to call it ({environment})</summary>
      <pre tabIndex={0} aria-label={`Code for ${environment}`}><code>{code}</code></pre>
      <CopyButton text={code} label={`Copy the ${environment} code`} />
    </details>
  );
}
