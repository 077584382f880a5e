// A service as its platform engineer manages it: general details, each environment's configuration
// (secrets write-only), live deployment status per environment and proxy, usage, and removal.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Button, Checkbox, Form } from 'react-aria-components';
import { ApiError, request } from '../api/client';
import { DeploymentFields, type DeploymentView, type FeedState, followDeployments, isNewer } from '../api/deployment-feed';
import { useQuery } from '../api/use-query';
import { href } from '../app/route';
import { graphql, type ResultOf, type VariablesOf } from '../graphql/graphql';
import { ConfirmDialog, ErrorNotice, Field, focusFirstInvalid, Loading, StatusBadge } from '../ui/controls';
import { draftOf, hasProblems, inputOf, RateLimitFields, type RateLimitDraft, SERVICE_BUDGET } from '../ui/rate-limit-fields';
import { type UsageGroup, UsagePanel, type UsageWindow } from '../ui/usage-panel';
import { LIMITS, lengthProblem } from '../ui/limits';
import { budgetText, MARKETPLACE_NAMES, PROVIDER_NAMES, SCOPE_NAMES, when } from '../ui/words';
import { checkApiVersion, checkAwsRegion, checkContextPath, checkHeaderName, checkServiceUrl, KEY_LABELS, parseLabels } from './provider-fields';

const ConfigFields = graphql(`
  fragment ConfigFields on ServiceEnvironmentConfig @_unmask {
    environment serviceUrl effectiveServiceUrl streamCutoff updatedAt
    backendSecurity { authType configured hint headerName apiVersion awsRegion }
    rateLimit { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce }
    connectionQuota { timeUnit maxPromptTokens maxCompletionTokens maxTotalTokens enforce }
  }
`);

const ServiceQuery = graphql(`
  query ConsoleService($id: ID!) {
    genAIService(id: $id) {
      id name provider scope projectId contextPath serviceUrl summary description labels marketplaceStatus removedAt
      environmentConfigs { ...ConfigFields }
      deployments { ...DeploymentFields }
    }
    environments { handle }
  }
`, [ConfigFields, DeploymentFields]);

const ServiceUsage = graphql(`
  query ConsoleServiceUsage($id: ID!, $filter: UsageReportFilter, $granularity: UsageGranularity, $groupBy: [UsageDimension!]) {
    genAIService(id: $id) { usageReport(filter: $filter, granularity: $granularity, groupBy: $groupBy) { rows { bucketStart environment requestModel connectionId connectionName promptTokens completionTokens totalTokens requests } } }
  }
`);

const UpdateService = graphql(`
  mutation ConsoleUpdateService($id: ID!, $input: UpdateGenAIServiceInput!) { updateGenAIService(id: $id, input: $input) { id } }
`);

const ConfigureEnvironment = graphql(`
  mutation ConsoleConfigure($serviceId: ID!, $environment: String!, $input: ConfigureServiceEnvironmentInput!) {
    configureServiceEnvironment(serviceId: $serviceId, environment: $environment, input: $input) { id }
  }
`);

const RemoveFromMarketplace = graphql(`mutation ConsoleRemove($serviceId: ID!) { removeFromMarketplace(serviceId: $serviceId) { id marketplaceStatus } }`);

type Service = ResultOf<typeof ServiceQuery>['genAIService'];
type Config = Service['environmentConfigs'][number];

export function ServiceScreen({ serviceId }: { serviceId: string }) {
  const { data, error, reload } = useQuery(ServiceQuery, { id: serviceId });
  const [removing, setRemoving] = useState(false);
  // Which editor saved last ('details' or an environment handle): held here, since a reload re-keys
  // (remounts) the editor with the saved values, which would drop its own notice at once.
  const [savedBy, setSavedBy] = useState<string | null>(null);
  const deployments = useLiveDeployments(serviceId, data?.genAIService.deployments, reload);
  const fetchRows = useCallback(async (group: UsageGroup, { from, granularity }: UsageWindow) => {
    const result = await request(ServiceUsage, { id: serviceId, filter: { from }, granularity, groupBy: [group] });
    return result.genAIService.usageReport.rows;
  }, [serviceId]);

  if (error && !data) {
    return (<><p><a href={href({ name: 'services' })}>← GenAI services</a></p><h1 tabIndex={-1}>Service</h1>
      <ErrorNotice error={error} onRetry={() => void reload()} back={{ href: href({ name: 'services' }), label: 'Back to GenAI services' }} /></>);
  }
  if (!data) return <Loading what="the service" />;
  const s = data.genAIService;
  const removed = s.marketplaceStatus === 'REMOVED';
  return (
    <>
      <p><a href={href({ name: 'services' })}>← GenAI services</a></p>
      <h1 tabIndex={-1}>{s.name}</h1>
      <p className="meta">
        <span className="badge">{PROVIDER_NAMES[s.provider]}</span>
        <span className="badge">{SCOPE_NAMES[s.scope]}</span>
        <span className={`badge market-${s.marketplaceStatus.toLowerCase()}`} id="marketplace-status">{MARKETPLACE_NAMES[s.marketplaceStatus]}</span>
        <code>{s.contextPath}</code>
      </p>
      {error ? <ErrorNotice error={error} onRetry={() => void reload()} /> : null}

      <h2>Deployments <span className={`badge feed-${deployments.feed}`} role="status" id="live-status">{FEED_WORDS[deployments.feed]}</span></h2>
      {deployments.error ? <ErrorNotice error={deployments.error} /> : null}
      <Deployments deployments={deployments.list} />

      <h2>Environments</h2>
      <div className="environments">
        {data.environments.map(({ handle }) => (
          <EnvironmentEditor key={`${handle}:${s.environmentConfigs.find((c) => c.environment === handle)?.updatedAt ?? ''}`} service={s} environment={handle}
            config={s.environmentConfigs.find((c) => c.environment === handle) ?? null} saved={savedBy === handle}
            onSaving={() => setSavedBy(null)} onSaved={() => { setSavedBy(handle); void reload(); }} />
        ))}
      </div>

      <h2>Usage</h2>
      <UsagePanel groups={['ENVIRONMENT', 'REQUEST_MODEL', 'CONNECTION']} fetchRows={fetchRows} />

      <h2>General details</h2>
      <DetailsEditor key={s.name + s.contextPath + s.serviceUrl + s.summary + s.description + s.labels.join()} service={s} saved={savedBy === 'details'}
        onSaving={() => setSavedBy(null)} onSaved={() => { setSavedBy('details'); void reload(); }} />

      <h2>Marketplace</h2>
      {removed ? (
        <p id="removal-notice" tabIndex={-1}>Removed from the marketplace {when(s.removedAt)}. Existing connections keep working until they are deleted; new connections are refused.</p>
      ) : (
        <>
          <p>Developers find this service in the marketplace and connect to it.</p>
          <Button className="button danger" onPress={() => setRemoving(true)}>Remove from marketplace</Button>
        </>
      )}
      <ConfirmDialog
        title={`Remove ${s.name} from the marketplace?`}
        isOpen={removing}
        danger
        confirmLabel="Remove from marketplace"
        onCancel={() => setRemoving(false)}
        onConfirm={async () => {
          await request(RemoveFromMarketplace, { serviceId: s.id });
          await reload();
          setRemoving(false);
          // The button that opened the dialog is gone: say what happened where the focus lands.
          requestAnimationFrame(() => setTimeout(() => document.getElementById('removal-notice')?.focus(), 0));
        }}
      >
        <p>Developers will no longer see it and cannot create new connections. <strong>Existing connections keep working</strong> until they are deleted.</p>
      </ConfirmDialog>
    </>
  );
}

const FEED_WORDS: Record<FeedState, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', off: 'Live updates off' };

/** The deployments as loaded, kept current by the subscription; a new revision reloads the service (its limits changed). */
function useLiveDeployments(serviceId: string, loaded: readonly DeploymentView[] | undefined, reload: () => Promise<void>) {
  const [byEnvironment, setByEnvironment] = useState<Map<string, DeploymentView>>(new Map());
  const [feed, setFeed] = useState<FeedState>('connecting');
  const [error, setError] = useState<unknown>(null);
  const reloadRef = useRef(reload);
  reloadRef.current = reload;
  const known = useRef(new Map<string, number>());

  useEffect(() => {
    if (!loaded) return;
    setByEnvironment((current) => {
      const next = new Map(current);
      for (const d of loaded) {
        if (isNewer(d, next.get(d.environment))) next.set(d.environment, d);
        if ((known.current.get(d.environment) ?? 0) < d.revision) known.current.set(d.environment, d.revision);
      }
      return next;
    });
  }, [loaded]);

  useEffect(() => followDeployments(serviceId, {
    state: setFeed,
    next: (d) => {
      setByEnvironment((current) => (isNewer(d, current.get(d.environment)) ? new Map(current).set(d.environment, d) : current));
      if (d.revision > (known.current.get(d.environment) ?? 0)) { known.current.set(d.environment, d.revision); void reloadRef.current(); }
    },
    resync: () => void reloadRef.current(),
    failed: setError,
  }), [serviceId]);

  return { list: [...byEnvironment.values()].sort((a, b) => a.environment.localeCompare(b.environment)), feed, error };
}

function Deployments({ deployments }: { deployments: DeploymentView[] }) {
  if (!deployments.length) return <p className="muted">Nothing deployed yet.</p>;
  return (
    <div className="deployments" id="deployments">
      {deployments.map((d) => (
        <section key={d.environment} className="card deployment" data-environment={d.environment} data-status={d.status} data-revision={d.revision} aria-labelledby={`deployment-${d.environment}`}>
          <h3 id={`deployment-${d.environment}`}>{d.environment} <StatusBadge status={d.status} /></h3>
          <p className="muted">Revision {d.revision} · {d.message} · updated {when(d.updatedAt)}</p>
          {d.dataPlanes.length ? (
            <div className="table-scroll" tabIndex={0} role="region" aria-label={`Proxies of ${d.environment}`}>
              <table>
                <thead><tr><th scope="col">Proxy</th><th scope="col">Applied</th><th scope="col">Connected</th><th scope="col">Last refusal</th></tr></thead>
                <tbody>
                  {d.dataPlanes.map((p) => (
                    <tr key={p.proxyId} data-proxy={p.proxyId}>
                      <th scope="row"><code>{p.proxyId}</code></th>
                      <td>{p.applied ? `Yes (revision ${p.appliedRevision})` : `Not yet (has revision ${p.appliedRevision})`}</td>
                      <td>{p.connected ? 'Yes' : `No, last seen ${when(p.lastSeenAt)}`}</td>
                      <td className="nack">{p.lastNackReason ? `Revision ${p.lastNackRevision ?? '?'} refused: ${p.lastNackReason}` : 'None'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : <p className="muted">No proxy of {d.environment} is connected.</p>}
        </section>
      ))}
    </div>
  );
}

/** A save's confirmation, focused when shown: the save reloads and remounts its editor, which drops the focus from the Save button. */
function SavedNotice({ children }: { children: string }) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => { ref.current?.focus(); }, []);
  return <p role="status" tabIndex={-1} ref={ref} className="saved">{children}</p>;
}

/** What an editor's parent tells it: whether it saved last, and when it starts and ends a save. */
interface SaveNotice {
  saved: boolean;
  onSaving(): void;
  onSaved(): void;
}

function DetailsEditor({ service, saved, onSaving, onSaved }: { service: Service } & SaveNotice) {
  const [name, setName] = useState(service.name);
  const [contextPath, setContextPath] = useState(service.contextPath);
  const [serviceUrl, setServiceUrl] = useState(service.serviceUrl);
  const [summary, setSummary] = useState(service.summary);
  const [description, setDescription] = useState(service.description);
  const [labelText, setLabelText] = useState(service.labels.join(', '));
  const [error, setError] = useState<unknown>(null);
  const path = checkContextPath(contextPath);
  const urlProblem = checkServiceUrl(serviceUrl);
  const labels = parseLabels(labelText);
  const fieldError = (field: string) => (error instanceof ApiError && error.fieldName === field ? error.message : null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    // A new attempt: the refusal of the last one (and its confirmation) no longer applies, whether or not this one is sent.
    setError(null);
    onSaving();
    if (path.problem || urlProblem || labels.problem || !name.trim()
      || lengthProblem(name, LIMITS.name) || lengthProblem(summary, LIMITS.summary) || lengthProblem(description, LIMITS.description)) {
      focusFirstInvalid(event.currentTarget as HTMLElement);
      return;
    }
    request(UpdateService, { id: service.id, input: { name: name.trim(), contextPath: path.normalized, serviceUrl: serviceUrl.trim(), summary: summary.trim(), description: description.trim(), labels: labels.labels } })
      .then(onSaved, setError);
  };
  return (
    <Form className="stack card" onSubmit={submit} aria-label="General details">
      <Field label="Name" name="name" value={name} onChange={setName} isRequired maxLength={LIMITS.name} error={(!name.trim() ? 'Enter a name.' : null) ?? fieldError('name')} />
      <Field label="Context path" name="contextPath" value={contextPath} onChange={setContextPath} isRequired error={path.problem ?? fieldError('contextPath')}
        description="Changing it changes the URL apps call." />
      <Field label="Service URL" name="serviceUrl" type="url" value={serviceUrl} onChange={setServiceUrl} isRequired error={urlProblem ?? fieldError('serviceUrl')} />
      <Field label="Summary" name="summary" value={summary} onChange={setSummary} maxLength={LIMITS.summary} error={fieldError('summary')} />
      <Field label="Description" name="description" value={description} onChange={setDescription} multiline maxLength={LIMITS.description} error={fieldError('description')} />
      <Field label="Labels" name="labels" value={labelText} onChange={setLabelText} description="Separated by commas." error={labels.problem ?? fieldError('labels')} />
      {error ? <ErrorNotice error={error} /> : null}
      {saved ? <SavedNotice>Details saved.</SavedNotice> : null}
      <div className="actions"><Button type="submit" className="button">Save details</Button></div>
    </Form>
  );
}

type ConfigureInput = VariablesOf<typeof ConfigureEnvironment>['input'];

function EnvironmentEditor({ service, environment, config, saved, onSaving, onSaved }: { service: Service; environment: string; config: Config | null } & SaveNotice) {
  const security = config?.backendSecurity;
  const bedrock = service.provider === 'AWS_BEDROCK';
  const [replacing, setReplacing] = useState(!security?.configured);
  const credentials = useRef<HTMLFieldSetElement>(null);
  const [apiKey, setApiKey] = useState('');
  const [accessKeyId, setAccessKeyId] = useState('');
  const [secretAccessKey, setSecretAccessKey] = useState('');
  const [sessionToken, setSessionToken] = useState('');
  const [useSigV4, setUseSigV4] = useState(security ? security.authType === 'AWS_SIGV4' : bedrock);
  const [apiVersion, setApiVersion] = useState(security?.apiVersion ?? '');
  const [awsRegion, setAwsRegion] = useState(security?.awsRegion ?? '');
  const [headerName, setHeaderName] = useState(security?.headerName ?? '');
  const [serviceUrl, setServiceUrl] = useState(config?.serviceUrl ?? '');
  const [streamCutoff, setStreamCutoff] = useState(config?.streamCutoff ?? false);
  const [rateLimit, setRateLimit] = useState<RateLimitDraft>(() => draftOf(config?.rateLimit));
  const [connectionQuota, setConnectionQuota] = useState<RateLimitDraft>(() => draftOf(config?.connectionQuota));
  const [error, setError] = useState<unknown>(null);
  // Save was pressed: a budget switched on without a maximum is pointed out from then on.
  const [attempted, setAttempted] = useState(false);
  const apiError = error instanceof ApiError ? error : null;
  const fieldError = (field: string) => (apiError?.fieldName === field ? apiError.message : null);
  const budgetError = (budget: 'rateLimit' | 'connectionQuota') => (apiError?.field?.includes(budget) && apiError.fieldName ? { field: apiError.fieldName, message: apiError.message } : null);
  const urlProblem = serviceUrl.trim() ? checkServiceUrl(serviceUrl) : null;
  const apiVersionProblem = checkApiVersion(apiVersion);
  const awsRegionProblem = checkAwsRegion(awsRegion);
  const headerNameProblem = checkHeaderName(headerName);
  const secretProblem = [apiKey, accessKeyId, secretAccessKey, sessionToken].some((v) => lengthProblem(v, LIMITS.secret));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // A new attempt: the refusal of the last one (and its confirmation) no longer applies, whether or not this one is sent.
    setError(null);
    onSaving();
    setAttempted(true);
    if (urlProblem || hasProblems(rateLimit, SERVICE_BUDGET) || hasProblems(connectionQuota, SERVICE_BUDGET) || apiVersionProblem || awsRegionProblem || headerNameProblem || secretProblem) {
      focusFirstInvalid(event.currentTarget as HTMLElement);
      return;
    }
    const backendSecurity: NonNullable<ConfigureInput['backendSecurity']> = {};
    if (replacing) {
      if (bedrock && useSigV4) {
        if (accessKeyId.trim()) backendSecurity.awsAccessKeyId = accessKeyId.trim();
        if (secretAccessKey.trim()) backendSecurity.awsSecretAccessKey = secretAccessKey.trim();
        if (sessionToken.trim()) backendSecurity.awsSessionToken = sessionToken.trim();
      } else if (apiKey.trim()) backendSecurity.value = apiKey.trim();
    }
    if (service.provider === 'AZURE_OPENAI' || service.provider === 'ANTHROPIC') { if (apiVersion.trim() !== (security?.apiVersion ?? '')) backendSecurity.apiVersion = apiVersion.trim() || null; }
    if (bedrock && awsRegion.trim() && awsRegion.trim() !== security?.awsRegion) backendSecurity.awsRegion = awsRegion.trim();
    if (headerName.trim() && headerName.trim() !== security?.headerName) backendSecurity.headerName = headerName.trim();
    const input: ConfigureInput = {
      rateLimit: inputOf(rateLimit),
      connectionQuota: inputOf(connectionQuota),
      serviceUrl: serviceUrl.trim() || null,
      streamCutoff,
      ...(Object.keys(backendSecurity).length ? { backendSecurity } : {}),
    };
    request(ConfigureEnvironment, { serviceId: service.id, environment, input }).then(() => {
      setApiKey(''); setSecretAccessKey(''); setSessionToken(''); setAccessKeyId('');
      onSaved();
    }, setError);
  };

  return (
    <section className="card environment" data-environment={environment} aria-labelledby={`config-${environment}`}>
      <h3 id={`config-${environment}`}>{environment}</h3>
      <p className="security-state">
        {security?.configured
          ? <StoredCredentials authType={security.authType} hint={security.hint} headerName={security.headerName} />
          : <>No credentials yet: the proxies cannot call the provider in {environment}.</>}
        {config?.rateLimit ? <> Budget: {budgetText(config.rateLimit)}.</> : null}
      </p>
      <Form className="stack" onSubmit={submit} aria-label={`Configuration of ${environment}`}>
        {security?.configured && !replacing ? (
          <Button className="button secondary" onPress={() => {
            setReplacing(true);
            // The button goes away: take the focus to the first new credential field.
            requestAnimationFrame(() => credentials.current?.querySelector('input')?.focus());
          }}>Replace key</Button>
        ) : null}
        {replacing ? (
          <fieldset ref={credentials}>
            <legend>{security?.configured ? 'New credentials (replace the stored ones)' : 'Credentials'}</legend>
            {bedrock ? (
              <Checkbox className="checkbox" isSelected={useSigV4} onChange={setUseSigV4}><span className="box" aria-hidden="true" />Sign with AWS access keys (SigV4) instead of a Bedrock API key</Checkbox>
            ) : null}
            {bedrock && useSigV4 ? (
              <div className="grid">
                <Field label="Access key id" name={`${environment}-awsAccessKeyId`} value={accessKeyId} onChange={setAccessKeyId} maxLength={LIMITS.secret} error={fieldError('awsAccessKeyId')} />
                <Field label="Secret access key" name={`${environment}-awsSecretAccessKey`} type="password" value={secretAccessKey} onChange={setSecretAccessKey} maxLength={LIMITS.secret} error={fieldError('awsSecretAccessKey')} />
                <Field label="Session token (optional)" name={`${environment}-awsSessionToken`} type="password" value={sessionToken} onChange={setSessionToken} maxLength={LIMITS.secret} error={fieldError('awsSessionToken')} />
              </div>
            ) : (
              <Field label={KEY_LABELS[service.provider]} name={`${environment}-apiKey`} type="password" value={apiKey} onChange={setApiKey} maxLength={LIMITS.secret} error={fieldError('value')}
                description="Write-only: stored encrypted, never shown again." />
            )}
          </fieldset>
        ) : null}
        <div className="grid">
          {service.provider === 'AZURE_OPENAI' || service.provider === 'ANTHROPIC' ? (
            <Field label={service.provider === 'AZURE_OPENAI' ? 'API version' : 'anthropic-version'} name={`${environment}-apiVersion`} value={apiVersion} onChange={setApiVersion} maxLength={LIMITS.apiVersion} error={apiVersionProblem ?? fieldError('apiVersion')} />
          ) : null}
          {bedrock ? <Field label="AWS region" name={`${environment}-awsRegion`} value={awsRegion} onChange={setAwsRegion} maxLength={LIMITS.awsRegion} error={awsRegionProblem ?? fieldError('awsRegion')} /> : null}
          <Field label="Header carrying the key" name={`${environment}-headerName`} value={headerName} onChange={setHeaderName} maxLength={LIMITS.headerName} error={headerNameProblem ?? fieldError('headerName')} />
          <Field label="Service URL override (optional)" name={`${environment}-serviceUrl`} type="url" value={serviceUrl} onChange={setServiceUrl} error={urlProblem ?? fieldError('serviceUrl')}
            description={`Now calling ${config?.effectiveServiceUrl ?? service.serviceUrl}`} />
        </div>
        <RateLimitFields legend="Service budget (shared by all connections)" idPrefix={`${environment}-limit`} draft={rateLimit} onChange={setRateLimit} serverError={budgetError('rateLimit')} enableLabel="Limit tokens" requireMaximum showMissing={attempted} />
        <RateLimitFields legend="Default quota of each connection" idPrefix={`${environment}-quota`} draft={connectionQuota} onChange={setConnectionQuota} serverError={budgetError('connectionQuota')} enableLabel="Give each connection a quota" requireMaximum showMissing={attempted} />
        <Checkbox className="checkbox" isSelected={streamCutoff} onChange={setStreamCutoff}><span className="box" aria-hidden="true" />End streamed answers that run past their budget</Checkbox>
        {error ? <ErrorNotice error={error} /> : null}
        {saved ? <SavedNotice>Saved; rolling out to the proxies.</SavedNotice> : null}
        <div className="actions"><Button type="submit" className="button">Save {environment}</Button></div>
      </Form>
    </section>
  );
}

/**
 * What is stored and how the proxies use it. The hint is the secret's end ("…9f3a"); the server gives
 * none, or a bare "…", for a secret too short to show part of it safely: then no ending is mentioned.
 */
function StoredCredentials({ authType, hint, headerName }: { authType: string; hint: string | null | undefined; headerName: string }) {
  const ending = hint && hint.replace(/^…/, '') ? hint : null;
  if (authType === 'AWS_SIGV4') {
    return <>AWS access keys stored{ending ? <> (key id ending <code className="hint">{ending}</code>)</> : null}, used to sign requests (AWS SigV4).</>;
  }
  return <>Key stored{ending ? <> (ending <code className="hint">{ending}</code>)</> : null}, sent in the <code>{headerName}</code> header.</>;
}
