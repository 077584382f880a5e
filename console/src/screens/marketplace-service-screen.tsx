// A service as a developer sees it in the marketplace, and where they connect to it.
import { useCallback, useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { ApiError, request } from '../api/client';
import { useQuery } from '../api/use-query';
import { href } from '../app/route';
import { useSession } from '../app/session';
import { graphql, type ResultOf } from '../graphql/graphql';
import { Chips, ErrorNotice, Field, focusFirstInvalid, Loading } from '../ui/controls';
import { IssuedKeys } from '../ui/issued-keys';
import { LIMITS, lengthProblem } from '../ui/limits';
import { budgetText, MARKETPLACE_NAMES, PROVIDER_NAMES, SCOPE_NAMES } from '../ui/words';

const ServiceQuery = graphql(`
  query ConsoleMarketplaceService($id: ID!) {
    genAIService(id: $id) {
      id name provider scope contextPath summary description labels marketplaceStatus
      environmentConfigs { environment backendSecurity { configured } rateLimit { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce } connectionQuota { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce } }
    }
  }
`);

const CreateConnection = graphql(`
  mutation ConsoleCreateConnection($input: CreateConnectionInput!) {
    createConnection(input: $input) {
      connection { id name environments { environment usageSnippet } }
      keys { environment apiKey endpointUrl }
    }
  }
`);

type Created = ResultOf<typeof CreateConnection>['createConnection'];

export function MarketplaceServiceScreen({ serviceId }: { serviceId: string }) {
  const { data, error, reload } = useQuery(ServiceQuery, { id: serviceId });
  if (error && !data) {
    return (<><p><a href={href({ name: 'marketplace' })}>← Marketplace</a></p><h1 tabIndex={-1}>Service</h1>
      <ErrorNotice error={error} onRetry={() => void reload()} back={{ href: href({ name: 'marketplace' }), label: 'Back to the marketplace' }} /></>);
  }
  if (!data) return <Loading what="the service" />;
  const s = data.genAIService;
  return (
    <>
      <p><a href={href({ name: 'marketplace' })}>← Marketplace</a></p>
      <h1 tabIndex={-1}>{s.name}</h1>
      <p className="meta">
        <span className="badge">{PROVIDER_NAMES[s.provider]}</span>
        <span className="badge">{SCOPE_NAMES[s.scope]}</span>
        <span className={`badge market-${s.marketplaceStatus.toLowerCase()}`}>{MARKETPLACE_NAMES[s.marketplaceStatus]}</span>
        <code>{s.contextPath}</code>
      </p>
      <Chips labels={s.labels} />
      {s.summary ? <p className="summary">{s.summary}</p> : null}
      {s.description ? <p className="muted">{s.description}</p> : null}
      <h2>Environments</h2>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Environments">
        <table>
          <thead><tr><th scope="col">Environment</th><th scope="col">Ready</th><th scope="col">Service budget</th><th scope="col">Each connection's quota</th></tr></thead>
          <tbody>
            {s.environmentConfigs.map((c) => (
              <tr key={c.environment} data-environment={c.environment}>
                <th scope="row">{c.environment}</th>
                <td>{c.backendSecurity.configured ? 'Yes' : 'Not yet configured'}</td>
                <td>{c.rateLimit ? budgetText(c.rateLimit) : 'Unlimited'}</td>
                <td>{c.connectionQuota ? budgetText(c.connectionQuota) : 'None'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Connect serviceId={s.id} removed={s.marketplaceStatus === 'REMOVED'} onRefused={() => void reload()} />
    </>
  );
}

function Connect({ serviceId, removed, onRefused }: { serviceId: string; removed: boolean; onRefused(): void }) {
  const { project } = useSession();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Submitted without a name: say so on the field (until one is typed).
  const [nameMissing, setNameMissing] = useState(false);
  const [issued, setIssued] = useState<Created[]>([]);
  const dismiss = useCallback(() => setIssued([]), []);

  if (removed) {
    return (<section className="card connect" aria-labelledby="connect-title"><h2 id="connect-title">Connect</h2><p>This service was removed from the marketplace: new connections are refused. Existing connections keep working.</p>{issued.length ? <IssuedKeys title="Keys issued" keys={merge(issued)} onDismiss={dismiss} /> : null}</section>);
  }
  if (!project) {
    return (<section className="card connect" aria-labelledby="connect-title"><h2 id="connect-title">Connect</h2><p>Connections belong to a project, and this organization has no project yet. Ask an organization admin to create one.</p></section>);
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    // A new attempt: the last one's refusal no longer applies.
    setError(null);
    setNameMissing(!name.trim());
    if (!name.trim() || lengthProblem(name, LIMITS.name) || lengthProblem(description, LIMITS.connectionDescription)) {
      focusFirstInvalid(event.currentTarget as HTMLElement);
      return;
    }
    setBusy(true);
    request(CreateConnection, { input: { projectId: project.id, serviceId, name: name.trim(), description: description.trim() || null } }).then(
      (result) => { setIssued((list) => [result.createConnection, ...list]); setName(''); setDescription(''); setBusy(false); },
      (e: unknown) => {
        setError(e);
        setBusy(false);
        // Removed or gone meanwhile: show the service as it is now.
        if (!(e instanceof ApiError && (e.fieldName === 'name' || e.fieldName === 'description' || e.code === 'NETWORK_ERROR'))) onRefused();
      },
    );
  };
  const fieldError = (field: string) => (error instanceof ApiError && error.fieldName === field ? error.message : null);
  return (
    <section className="card connect" aria-labelledby="connect-title">
      <h2 id="connect-title">Connect</h2>
      <p className="muted">Creates a connection in project {project.name} and issues one consumer key per environment.</p>
      <Form className="stack inline" onSubmit={submit}>
        <Field label="Connection name" name="name" value={name} onChange={setName} isRequired placeholder="e.g. checkout-assistant" maxLength={LIMITS.name}
          error={(nameMissing && !name.trim() ? 'Enter a name for the connection.' : null) ?? fieldError('name')} />
        <Field label="Description" name="description" value={description} onChange={setDescription} placeholder="What will call it" maxLength={LIMITS.connectionDescription} error={fieldError('description')} />
        <Button type="submit" className="button" isDisabled={busy}>{busy ? 'Creating…' : 'Create connection'}</Button>
      </Form>
      {error ? <ErrorNotice error={error} /> : null}
      {issued.map((created) => (
        <div key={created.connection.id}>
          <IssuedKeys title={`Connection ${created.connection.name} created`} keys={merge([created])} onDismiss={() => setIssued((list) => list.filter((c) => c !== created))} />
          <p><a href={href({ name: 'connection', id: created.connection.id })}>Open connection {created.connection.name}</a></p>
        </div>
      ))}
    </section>
  );
}

function merge(created: Created[]) {
  return created.flatMap((c) => c.keys.map((k) => ({ ...k, usageSnippet: c.connection.environments.find((e) => e.environment === k.environment)?.usageSnippet })));
}
