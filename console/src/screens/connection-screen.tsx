// One connection: per environment its endpoint, key prefix, quota, remaining budget and code snippet;
// rotate a key (the new key shown once), delete the connection, and its usage.
import { useCallback, useState } from 'react';
import { Button, Label, Meter } from 'react-aria-components';
import { ApiError, request } from '../api/client';
import { useQuery } from '../api/use-query';
import { href, navigate } from '../app/route';
import { useSession } from '../app/session';
import { graphql, type ResultOf } from '../graphql/graphql';
import { ConfirmDialog, ErrorNotice, Loading } from '../ui/controls';
import { IssuedKeys, Snippet } from '../ui/issued-keys';
import { draftOf, hasProblems, inputOf, RateLimitFields, type RateLimitDraft } from '../ui/rate-limit-fields';
import { type UsageGroup, UsagePanel, type UsageWindow } from '../ui/usage-panel';
import { BUDGET_SOURCE_NAMES, budgetText, DIMENSION_NAMES, PROVIDER_NAMES, QUOTA_SOURCE_NAMES, TIME_UNIT_NAMES, tokens, when } from '../ui/words';
import { DeleteConnection } from './connections-screen';

const ConnectionQuery = graphql(`
  query ConsoleConnection($id: ID!) {
    connection(id: $id) {
      id name description createdAt projectId
      service { id name provider marketplaceStatus }
      environments { environment endpointUrl keyPrefix keyCreatedAt previousKeyPrefix previousKeyExpiresAt usageSnippet quotaSource quota { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce } }
    }
  }
`);

// One environment at a time: the budgets of all environments at once (no argument) is refused by the API today.
const BudgetsQuery = graphql(`
  query ConsoleConnectionBudgets($id: ID!, $environment: String!) {
    connection(id: $id) { budgets(environment: $environment) { environment dimension source timeUnit limit used remaining resetsAt enforce } }
  }
`);

const ConnectionUsage = graphql(`
  query ConsoleConnectionUsage($id: ID!, $filter: UsageReportFilter, $granularity: UsageGranularity, $groupBy: [UsageDimension!]) {
    connection(id: $id) { usageReport(filter: $filter, granularity: $granularity, groupBy: $groupBy) { rows { bucketStart environment requestModel connectionId connectionName promptTokens completionTokens totalTokens requests } } }
  }
`);

const RotateKey = graphql(`
  mutation ConsoleRotateKey($connectionId: ID!, $environment: String!, $graceSeconds: Int) { rotateConnectionKey(connectionId: $connectionId, environment: $environment, graceSeconds: $graceSeconds) { environment apiKey endpointUrl previousKeyExpiresAt } }
`);

const SetQuota = graphql(`
  mutation ConsoleSetQuota($connectionId: ID!, $environment: String!, $quota: RateLimitInput) { setConnectionQuota(connectionId: $connectionId, environment: $environment, quota: $quota) { id } }
`);

type ConnectionData = ResultOf<typeof ConnectionQuery>['connection'];
type Rotated = ResultOf<typeof RotateKey>['rotateConnectionKey'];

export function ConnectionScreen({ connectionId }: { connectionId: string }) {
  const { canManage } = useSession();
  const { data, error, reload } = useQuery(ConnectionQuery, { id: connectionId });
  const [rotating, setRotating] = useState<string | null>(null);
  const [rotated, setRotated] = useState<Rotated | null>(null);
  const [grace, setGrace] = useState(0);
  const [deleting, setDeleting] = useState(false);
  const dismiss = useCallback(() => setRotated(null), []);
  const fetchRows = useCallback(async (group: UsageGroup, { from, granularity }: UsageWindow) => {
    const result = await request(ConnectionUsage, { id: connectionId, filter: { from }, granularity, groupBy: [group] });
    return result.connection.usageReport.rows;
  }, [connectionId]);

  if (error && !data) {
    return (<><p><a href={href({ name: 'connections' })}>← Connections</a></p><h1 tabIndex={-1}>Connection</h1>
      <ErrorNotice error={error} onRetry={() => void reload()} back={{ href: href({ name: 'connections' }), label: 'Back to connections' }} /></>);
  }
  if (!data) return <Loading what="the connection" />;
  const c = data.connection;
  return (
    <>
      <p><a href={href({ name: 'connections' })}>← Connections</a></p>
      <h1 tabIndex={-1}>{c.name}</h1>
      <p className="meta">Connects to <a href={href({ name: 'marketplace-service', id: c.service.id })}>{c.service.name}</a> <span className="badge">{PROVIDER_NAMES[c.service.provider]}</span> · created {when(c.createdAt)}</p>
      {c.description ? <p className="muted">{c.description}</p> : null}
      {error ? <ErrorNotice error={error} onRetry={() => void reload()} /> : null}
      {rotated ? <IssuedKeys title={`New ${rotated.environment} key`} keys={[{ ...rotated, usageSnippet: null }]} onDismiss={dismiss} /> : null}
      <h2>Environments</h2>
      <div className="environments">
        {c.environments.map((e) => (
          <section key={e.environment} className="card" data-environment={e.environment} aria-labelledby={`env-${e.environment}`}>
            <h3 id={`env-${e.environment}`}>{e.environment}</h3>
            <dl className="pairs">
              <dt>Endpoint URL</dt><dd><code className="endpoint">{e.endpointUrl}</code></dd>
              <dt>Key</dt><dd>{e.keyPrefix ? <><code>{e.keyPrefix}…</code> <span className="muted">issued {when(e.keyCreatedAt)}</span></> : 'none'}</dd>
              {e.previousKeyPrefix ? <><dt>Previous key</dt><dd><code>{e.previousKeyPrefix}…</code> <span className="muted">keeps working until {when(e.previousKeyExpiresAt)}</span></dd></> : null}
              <dt>Quota</dt><dd>{e.quota ? <>{budgetText(e.quota)} <span className="muted">({QUOTA_SOURCE_NAMES[e.quotaSource]})</span></> : 'None'}</dd>
            </dl>
            <Budgets connectionId={c.id} environment={e.environment} />
            <Snippet environment={e.environment} code={e.usageSnippet} />
            <div className="actions">
              <Button className="button secondary" onPress={() => setRotating(e.environment)}>Rotate {e.environment} key</Button>
            </div>
            {canManage ? <QuotaEditor connection={c} environment={e} onSaved={() => void reload()} /> : null}
          </section>
        ))}
      </div>
      <h2>Usage</h2>
      <UsagePanel groups={['ENVIRONMENT', 'REQUEST_MODEL']} fetchRows={fetchRows} />
      <h2>Delete</h2>
      <p>Deleting the connection revokes its keys in every environment.</p>
      <Button className="button danger" onPress={() => setDeleting(true)}>Delete connection</Button>
      <ConfirmDialog
        title={`Rotate the ${rotating ?? ''} key?`}
        isOpen={rotating !== null}
        confirmLabel="Rotate key"
        onCancel={() => { setRotating(null); setGrace(0); }}
        onConfirm={async () => {
          const result = await request(RotateKey, { connectionId: c.id, environment: rotating!, graceSeconds: grace });
          setRotating(null);
          setGrace(0);
          setRotated(result.rotateConnectionKey);
          void reload();
        }}
      >
        <p>A new key is issued and shown once.</p>
        <label className="field">
          <span>The current key keeps working</span>
          <select id="rotation-grace" value={grace} onChange={(event) => setGrace(Number(event.target.value))}>
            <option value={0}>No: it stops within seconds</option>
            <option value={3600}>For 1 hour</option>
            <option value={86_400}>For 1 day</option>
            <option value={604_800}>For 7 days</option>
          </select>
        </label>
        <p className="muted">{grace === 0 ? 'Update the apps that use it first.' : 'Both keys work meanwhile: move the apps to the new key, then the old one stops on its own.'} A key still in an earlier grace period stops now.</p>
      </ConfirmDialog>
      <ConfirmDialog
        title={`Delete connection ${c.name}?`}
        isOpen={deleting}
        danger
        confirmLabel="Delete connection"
        onCancel={() => setDeleting(false)}
        onConfirm={async () => {
          await request(DeleteConnection, { id: c.id });
          setDeleting(false);
          navigate({ name: 'connections' });
        }}
      >
        <p>Its keys stop working within seconds, in every environment. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}

function Budgets({ connectionId, environment }: { connectionId: string; environment: string }) {
  const { data, error, reload } = useQuery(BudgetsQuery, { id: connectionId, environment });
  if (error) return <ErrorNotice error={error} onRetry={() => void reload()} />;
  if (!data) return <Loading what="budgets" />;
  const budgets = data.connection.budgets;
  if (!budgets.length) return <p className="muted">No budget applies: unlimited.</p>;
  return (
    <div className="budgets">
      {budgets.map((b) => (
        <Meter key={`${b.source}-${b.dimension}`} className="meter" value={b.used} maxValue={Math.max(b.limit, 1)} aria-label={`${BUDGET_SOURCE_NAMES[b.source]}, ${DIMENSION_NAMES[b.dimension]}`} valueLabel={`${tokens(b.remaining)} of ${tokens(b.limit)} left`}>
          {({ percentage, valueText }) => (
            <>
              <Label>{BUDGET_SOURCE_NAMES[b.source]} · {DIMENSION_NAMES[b.dimension]} {TIME_UNIT_NAMES[b.timeUnit]}{b.enforce ? '' : ' (shadow)'}</Label>
              <span className="value" data-remaining={b.remaining}>{valueText}, resets {when(b.resetsAt)}</span>
              <div className="track"><progress className={percentage > 90 ? 'high' : ''} value={Math.min(percentage, 100)} max={100} aria-hidden="true" /></div>
            </>
          )}
        </Meter>
      ))}
    </div>
  );
}

function QuotaEditor({ connection, environment, onSaved }: { connection: ConnectionData; environment: ConnectionData['environments'][number]; onSaved(): void }) {
  const [draft, setDraft] = useState<RateLimitDraft>(() => draftOf(environment.quotaSource === 'CONNECTION_OVERRIDE' ? environment.quota : null));
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const save = (quota: ReturnType<typeof inputOf> | 'default') => {
    setError(null);
    setSaved(false);
    const variables = { connectionId: connection.id, environment: environment.environment, quota: quota === 'default' ? null : (quota ?? { timeUnit: 'HOUR' as const, enforce: true }) };
    request(SetQuota, variables).then(() => { setSaved(true); onSaved(); }, setError);
  };
  const serverError = error instanceof ApiError && error.fieldName ? { field: error.fieldName, message: error.message } : null;
  return (
    <details className="quota-editor">
      <summary>Set this connection's own quota</summary>
      <RateLimitFields legend={`Own quota in ${environment.environment}`} idPrefix={`quota-${environment.environment}`} draft={draft} onChange={setDraft} serverError={serverError} enableLabel="Override the service's default quota" />
      <div className="actions">
        <Button className="button" isDisabled={hasProblems(draft)} onPress={() => save(inputOf(draft))}>Save quota</Button>
        <Button className="button secondary" onPress={() => save('default')}>Use the service's default</Button>
      </div>
      {saved ? <p role="status">Quota saved.</p> : null}
      {error ? <ErrorNotice error={error} /> : null}
    </details>
  );
}
