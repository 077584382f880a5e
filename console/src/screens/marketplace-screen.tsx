// The developer's marketplace: published services visible from the organization and project, with
// free-text search and label, provider and scope filters.
import { useEffect, useState } from 'react';
import { Input, Label, SearchField } from 'react-aria-components';
import { useQuery } from '../api/use-query';
import { href } from '../app/route';
import { useSession } from '../app/session';
import { graphql } from '../graphql/graphql';
import { Chips, ErrorNotice, Loading } from '../ui/controls';
import { LIMITS } from '../ui/limits';
import { plural, PROVIDER_NAMES, PROVIDERS, type ProviderName, SCOPE_NAMES } from '../ui/words';

const MarketplaceQuery = graphql(`
  query ConsoleMarketplace($organizationId: ID!, $projectId: ID, $filter: MarketplaceFilter) {
    marketplace(organizationId: $organizationId, projectId: $projectId, filter: $filter) { id name provider scope contextPath labels summary }
  }
`);

function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setCurrent(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return current;
}

export function MarketplaceScreen() {
  const { organization, project } = useSession();
  const [search, setSearch] = useState('');
  const [label, setLabel] = useState('');
  const [provider, setProvider] = useState('');
  const [scope, setScope] = useState('');
  const text = useDebounced(search.trim(), 200);
  const labelText = useDebounced(label.trim(), 200);
  const { data, error, loading, reload } = useQuery(MarketplaceQuery, {
    organizationId: organization!.id,
    projectId: project?.id ?? null,
    filter: {
      search: text || null,
      labels: labelText ? [labelText] : null,
      providers: provider ? [provider as ProviderName] : null,
      scope: scope === 'ORGANIZATION' || scope === 'PROJECT' ? scope : null,
    },
  });

  return (
    <>
      <h1 tabIndex={-1}>Marketplace</h1>
      <p className="muted">Published GenAI services visible from {organization!.name}{project ? ` / ${project.name}` : ''}.</p>
      <form className="filters" role="search" aria-label="Filter services" onSubmit={(e) => e.preventDefault()}>
        <SearchField className="field grow" value={search} onChange={setSearch}>
          <Label>Search</Label>
          <Input id="search" placeholder="Name, summary or description" maxLength={LIMITS.search} />
        </SearchField>
        <label className="field">
          <span>Label</span>
          <input id="label-filter" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="e.g. chat" maxLength={LIMITS.label} />
        </label>
        <label className="field">
          <span>Provider</span>
          <select id="provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
            <option value="">All providers</option>
            {PROVIDERS.map((p) => <option key={p} value={p}>{PROVIDER_NAMES[p]}</option>)}
          </select>
        </label>
        <label className="field">
          <span>Visible to</span>
          <select id="scope" value={scope} onChange={(e) => setScope(e.target.value)}>
            <option value="">Any scope</option>
            <option value="ORGANIZATION">{SCOPE_NAMES.ORGANIZATION}</option>
            <option value="PROJECT">{SCOPE_NAMES.PROJECT}</option>
          </select>
        </label>
      </form>
      <div id="marketplace-results" aria-busy={loading}>
        {error ? <ErrorNotice error={error} onRetry={() => void reload()} /> : null}
        {!data && !error ? <Loading what="services" /> : null}
        {data ? (
          <>
            <p className="muted" id="result-count" role="status">{plural(data.marketplace.length, 'service')}</p>
            {data.marketplace.length ? (
              <ul className="cards">
                {data.marketplace.map((s) => (
                  <li key={s.id} className="card service-card" data-service-id={s.id}>
                    <h2><a href={href({ name: 'marketplace-service', id: s.id })}>{s.name}</a></h2>
                    <p className="meta"><span className="badge">{PROVIDER_NAMES[s.provider]}</span><span className="badge">{SCOPE_NAMES[s.scope]}</span><code>{s.contextPath}</code></p>
                    {s.summary ? <p className="summary">{s.summary}</p> : null}
                    <Chips labels={s.labels} />
                  </li>
                ))}
              </ul>
            ) : <p className="muted">No published service matches.</p>}
          </>
        ) : null}
      </div>
    </>
  );
}
