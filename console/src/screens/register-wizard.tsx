// Registering a GenAI service in three steps: the provider (and its own fields), the details (context
// path checked as you type), and each environment's credentials and token limits.
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Button, Checkbox, Form, Label, Radio, RadioGroup } from 'react-aria-components';
import { ApiError, request } from '../api/client';
import { useQuery } from '../api/use-query';
import { href, navigate } from '../app/route';
import { useSession } from '../app/session';
import { graphql, type VariablesOf } from '../graphql/graphql';
import { ErrorNotice, Field, Loading } from '../ui/controls';
import { draftOf, hasProblems, inputOf, RateLimitFields, type RateLimitDraft, SERVICE_BUDGET } from '../ui/rate-limit-fields';
import { LIMITS, lengthProblem } from '../ui/limits';
import { PROVIDER_NAMES, PROVIDERS, type ProviderName } from '../ui/words';
import {
  checkApiVersion, checkAwsRegion, checkContextPath, checkHeaderName, checkServiceUrl, DEFAULT_HEADERS, DEFAULT_SERVICE_URLS, KEY_LABELS, parseLabels,
} from './provider-fields';

export const EnvironmentsQuery = graphql(`query ConsoleEnvironments { environments { handle name } }`);

const Register = graphql(`
  mutation ConsoleRegister($input: RegisterGenAIServiceInput!) { registerGenAIService(input: $input) { id } }
`);

type EnvironmentInput = NonNullable<VariablesOf<typeof Register>['input']['environments']>[number];

interface EnvironmentDraft {
  include: boolean;
  apiKey: string;
  awsAccessKeyId: string;
  awsSecretAccessKey: string;
  awsSessionToken: string;
  serviceUrl: string;
  rateLimit: RateLimitDraft;
  connectionQuota: RateLimitDraft;
}

const STEPS = ['Provider', 'Details', 'Environments'] as const;

function emptyEnvironment(): EnvironmentDraft {
  return { include: true, apiKey: '', awsAccessKeyId: '', awsSecretAccessKey: '', awsSessionToken: '', serviceUrl: '', rateLimit: draftOf(null), connectionQuota: draftOf(null) };
}

export function RegisterWizard() {
  const { organization, project } = useSession();
  const environments = useQuery(EnvironmentsQuery, {});
  const [step, setStep] = useState(0);
  const [provider, setProvider] = useState<ProviderName>('OPENAI');
  const [serviceUrl, setServiceUrl] = useState(DEFAULT_SERVICE_URLS.OPENAI);
  const [apiVersion, setApiVersion] = useState('2024-10-21');
  const [awsRegion, setAwsRegion] = useState('us-east-1');
  const [bedrockAuth, setBedrockAuth] = useState<'SIGV4' | 'API_KEY'>('SIGV4');
  const [headerOverride, setHeaderOverride] = useState(false);
  const [headerName, setHeaderName] = useState('');
  const [name, setName] = useState('');
  const [contextPath, setContextPath] = useState('');
  const [summary, setSummary] = useState('');
  const [description, setDescription] = useState('');
  const [labelText, setLabelText] = useState('');
  const [scope, setScope] = useState<'ORGANIZATION' | 'PROJECT'>('ORGANIZATION');
  const [envs, setEnvs] = useState<Record<string, EnvironmentDraft>>({});
  const [touched, setTouched] = useState<Record<number, boolean>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Where the focus goes once a new step shows: its heading (Next, Back), so screen readers announce the
  // step and Tab continues in it; or the field a refusal named. The button pressed stays behind otherwise.
  const stepHeading = useRef<HTMLHeadingElement>(null);
  const focusOnStep = useRef<'heading' | 'invalid' | null>(null);
  const goTo = (target: number, focus: 'heading' | 'invalid') => {
    focusOnStep.current = focus;
    setStep(target);
  };
  useEffect(() => {
    const focus = focusOnStep.current;
    focusOnStep.current = null;
    if (focus === 'heading') stepHeading.current?.focus();
    else if (focus === 'invalid') document.querySelector<HTMLElement>('.wizard [data-invalid] input, .wizard [data-invalid] textarea')?.focus();
  }, [step]);

  const handles = environments.data?.environments.map((e) => e.handle) ?? [];
  const envDraft = (h: string) => envs[h] ?? emptyEnvironment();
  const setEnv = (h: string, patch: Partial<EnvironmentDraft>) => setEnvs((all) => ({ ...all, [h]: { ...(all[h] ?? emptyEnvironment()), ...patch } }));

  const apiError = error instanceof ApiError ? error : null;
  const serverFieldError = (field: string, environment?: string) => {
    if (!apiError?.field || apiError.fieldName !== field) return null;
    if (environment === undefined) return apiError.field.includes('environments[') && !['apiVersion', 'awsRegion', 'headerName'].includes(field) ? null : apiError.message;
    const index = /environments\[(\d+)\]/.exec(apiError.field)?.[1];
    return index !== undefined && submittedEnvironments[Number(index)] === environment ? apiError.message : null;
  };
  const [submittedEnvironments, setSubmittedEnvironments] = useState<string[]>([]);

  const urlProblem = checkServiceUrl(serviceUrl);
  const path = checkContextPath(contextPath);
  const labels = parseLabels(labelText);
  // A secret longer than the server takes (the fields point it out themselves).
  const secretsTooLong = (d: EnvironmentDraft) => [d.apiKey, d.awsAccessKeyId, d.awsSecretAccessKey, d.awsSessionToken].some((v) => lengthProblem(v, LIMITS.secret));
  const stepProblems = [
    Boolean(urlProblem) || (provider === 'AZURE_OPENAI' && (!apiVersion.trim() || Boolean(checkApiVersion(apiVersion))))
      || (provider === 'AWS_BEDROCK' && (!awsRegion.trim() || Boolean(checkAwsRegion(awsRegion)))) || (headerOverride && (!headerName.trim() || Boolean(checkHeaderName(headerName)))),
    !name.trim() || Boolean(path.problem) || Boolean(labels.problem)
      || Boolean(lengthProblem(name, LIMITS.name) ?? lengthProblem(summary, LIMITS.summary) ?? lengthProblem(description, LIMITS.description)),
    handles.some((h) => envDraft(h).include && (hasProblems(envDraft(h).rateLimit, SERVICE_BUDGET) || hasProblems(envDraft(h).connectionQuota, SERVICE_BUDGET) || secretsTooLong(envDraft(h))
      || (envDraft(h).serviceUrl.trim() !== '' && Boolean(checkServiceUrl(envDraft(h).serviceUrl))))),
  ];
  const show = (i: number) => touched[i] === true;

  const chooseProvider = (next: ProviderName) => {
    if (serviceUrl === DEFAULT_SERVICE_URLS[provider] || !serviceUrl.trim()) setServiceUrl(DEFAULT_SERVICE_URLS[next]);
    setProvider(next);
  };

  const environmentInput = (h: string): EnvironmentInput => {
    const d = envDraft(h);
    const security: NonNullable<EnvironmentInput['backendSecurity']> = {};
    if (provider === 'AWS_BEDROCK' && bedrockAuth === 'SIGV4') {
      if (d.awsAccessKeyId.trim()) security.awsAccessKeyId = d.awsAccessKeyId.trim();
      if (d.awsSecretAccessKey.trim()) security.awsSecretAccessKey = d.awsSecretAccessKey.trim();
      if (d.awsSessionToken.trim()) security.awsSessionToken = d.awsSessionToken.trim();
    } else if (d.apiKey.trim()) {
      security.value = d.apiKey.trim();
    }
    if (provider === 'AZURE_OPENAI') security.apiVersion = apiVersion.trim();
    if (provider === 'AWS_BEDROCK') security.awsRegion = awsRegion.trim();
    if (headerOverride && headerName.trim()) security.headerName = headerName.trim();
    return {
      environment: h,
      backendSecurity: Object.keys(security).length ? security : null,
      rateLimit: inputOf(d.rateLimit),
      connectionQuota: inputOf(d.connectionQuota),
      serviceUrl: d.serviceUrl.trim() || null,
    };
  };

  const next = (event: FormEvent) => {
    event.preventDefault();
    setTouched((t) => ({ ...t, [step]: true }));
    // A new attempt: a refusal from an earlier submit no longer applies (the fields say what is wrong now).
    setError(null);
    if (stepProblems[step]) {
      requestAnimationFrame(() => document.querySelector<HTMLElement>('[data-invalid] input, [data-invalid] textarea, [aria-invalid="true"]')?.focus());
      return;
    }
    if (step < 2) { goTo(step + 1, 'heading'); return; }
    const included = handles.filter((h) => envDraft(h).include);
    setSubmittedEnvironments(included);
    setBusy(true);
    request(Register, {
      input: {
        organizationId: organization!.id,
        projectId: scope === 'PROJECT' ? project?.id ?? null : null,
        scope,
        provider,
        name: name.trim(),
        contextPath: path.normalized,
        serviceUrl: serviceUrl.trim(),
        summary: summary.trim() || null,
        description: description.trim() || null,
        labels: labels.labels,
        environments: included.map(environmentInput),
      },
    }).then((result) => navigate({ name: 'service', id: result.registerGenAIService.id }), (e: unknown) => {
      setBusy(false);
      setError(e);
      // Take the user to the step holding the field the server named.
      if (e instanceof ApiError && e.field) {
        const field = e.fieldName ?? '';
        if (['serviceUrl', 'apiVersion', 'awsRegion', 'headerName'].includes(field) && !/environments\[\d+\]\.serviceUrl/.test(e.field)) goTo(0, 'invalid');
        else if (!e.field.includes('environments[')) goTo(1, 'invalid');
      }
    });
  };

  if (environments.error) return (<><h1 tabIndex={-1}>Register a service</h1><ErrorNotice error={environments.error} onRetry={() => void environments.reload()} /></>);
  if (!environments.data) return <Loading what="environments" />;

  return (
    <>
      <p><a href={href({ name: 'services' })}>← GenAI services</a></p>
      <h1 tabIndex={-1}>Register a service</h1>
      <ol className="steps" aria-label="Steps">
        {STEPS.map((s, i) => <li key={s} aria-current={i === step ? 'step' : undefined} className={i < step ? 'done' : ''}>{i + 1}. {s}</li>)}
      </ol>
      <Form className="stack wizard" onSubmit={next} aria-labelledby="step-title">
        <h2 id="step-title" tabIndex={-1} ref={stepHeading}>Step {step + 1} of 3: {STEPS[step]}</h2>
        {step === 0 ? (
          <>
            <RadioGroup className="radios providers" value={provider} onChange={(v) => chooseProvider(v as ProviderName)}>
              <Label>Provider</Label>
              {PROVIDERS.map((p) => <Radio key={p} value={p} className="radio">{PROVIDER_NAMES[p]}</Radio>)}
            </RadioGroup>
            <Field label="Service URL" name="serviceUrl" type="url" value={serviceUrl} onChange={setServiceUrl} isRequired
              description={provider === 'AZURE_OPENAI' ? "Your Azure OpenAI resource's endpoint: put its name in place of YOUR-RESOURCE." : 'The provider endpoint the proxies call.'} error={(show(0) ? urlProblem : null) ?? serverFieldError('serviceUrl')} />
            {provider === 'AZURE_OPENAI' ? (
              <Field label="API version" name="apiVersion" value={apiVersion} onChange={setApiVersion} isRequired description="Sent as api-version, e.g. 2024-10-21."
                maxLength={LIMITS.apiVersion}
                error={(show(0) && !apiVersion.trim() ? 'Enter the Azure OpenAI api-version.' : checkApiVersion(apiVersion)) ?? serverFieldError('apiVersion')} />
            ) : null}
            {provider === 'AWS_BEDROCK' ? (
              <>
                <Field label="AWS region" name="awsRegion" value={awsRegion} onChange={setAwsRegion} isRequired description="e.g. us-east-1."
                  maxLength={LIMITS.awsRegion}
                  error={(show(0) && !awsRegion.trim() ? 'Enter the AWS region.' : checkAwsRegion(awsRegion)) ?? serverFieldError('awsRegion')} />
                <RadioGroup className="radios" value={bedrockAuth} onChange={(v) => setBedrockAuth(v as 'SIGV4' | 'API_KEY')}>
                  <Label>How the proxy signs in to Bedrock</Label>
                  <Radio value="SIGV4" className="radio">AWS access keys (SigV4)</Radio>
                  <Radio value="API_KEY" className="radio">Bedrock API key</Radio>
                </RadioGroup>
              </>
            ) : null}
            <Checkbox className="checkbox" isSelected={headerOverride} onChange={setHeaderOverride}>
              <span className="box" aria-hidden="true" />Send the key in another header than {DEFAULT_HEADERS[provider]}
            </Checkbox>
            {headerOverride ? (
              <Field label="Header name" name="headerName" value={headerName} onChange={setHeaderName} isRequired
                maxLength={LIMITS.headerName}
                error={(show(0) && !headerName.trim() ? 'Enter a header name.' : checkHeaderName(headerName)) ?? serverFieldError('headerName')} />
            ) : null}
          </>
        ) : null}
        {step === 1 ? (
          <>
            <Field label="Name" name="name" value={name} onChange={setName} isRequired maxLength={LIMITS.name} error={(show(1) && !name.trim() ? 'Enter a name.' : null) ?? serverFieldError('name')} />
            <Field label="Context path" name="contextPath" value={contextPath} onChange={setContextPath} isRequired placeholder="/openai-prod"
              description={contextPath.trim() && !path.problem ? `Apps will call {proxy}/${organization!.handle}${path.normalized}` : 'Unique in the organization, e.g. /openai-prod.'}
              error={((show(1) || contextPath !== '') ? path.problem : null) ?? serverFieldError('contextPath')} />
            <Field label="Summary" name="summary" value={summary} onChange={setSummary} maxLength={LIMITS.summary} error={serverFieldError('summary')} />
            <Field label="Description" name="description" value={description} onChange={setDescription} multiline maxLength={LIMITS.description} error={serverFieldError('description')} />
            <Field label="Labels" name="labels" value={labelText} onChange={setLabelText} description="Separated by commas, e.g. chat, support." error={labels.problem ?? serverFieldError('labels')} />
            <RadioGroup className="radios" value={scope} onChange={(v) => setScope(v as 'ORGANIZATION' | 'PROJECT')}>
              <Label>Who can see it in the marketplace</Label>
              <Radio value="ORGANIZATION" className="radio">Every project of {organization!.name}</Radio>
              <Radio value="PROJECT" className="radio" isDisabled={!project}>{project ? `Only project ${project.name}` : 'Only one project (this organization has none)'}</Radio>
            </RadioGroup>
          </>
        ) : null}
        {step === 2 ? (
          <>
            {handles.length === 0 ? <p>No environment exists yet: an installation admin creates them.</p> : null}
            {handles.map((h) => {
              const d = envDraft(h);
              return (
                <fieldset key={h} className="environment" data-environment={h}>
                  <legend>{h}</legend>
                  <Checkbox className="checkbox" isSelected={d.include} onChange={(include) => setEnv(h, { include })}>
                    <span className="box" aria-hidden="true" />Configure {h} now
                  </Checkbox>
                  {d.include ? (
                    <>
                      {provider === 'AWS_BEDROCK' && bedrockAuth === 'SIGV4' ? (
                        <div className="grid">
                          <Field label="Access key id" name={`${h}-awsAccessKeyId`} value={d.awsAccessKeyId} onChange={(v) => setEnv(h, { awsAccessKeyId: v })} maxLength={LIMITS.secret} error={serverFieldError('awsAccessKeyId', h)} />
                          <Field label="Secret access key" name={`${h}-awsSecretAccessKey`} type="password" value={d.awsSecretAccessKey} onChange={(v) => setEnv(h, { awsSecretAccessKey: v })} maxLength={LIMITS.secret} error={serverFieldError('awsSecretAccessKey', h)} />
                          <Field label="Session token (optional)" name={`${h}-awsSessionToken`} type="password" value={d.awsSessionToken} onChange={(v) => setEnv(h, { awsSessionToken: v })} maxLength={LIMITS.secret} error={serverFieldError('awsSessionToken', h)} />
                        </div>
                      ) : (
                        <Field label={KEY_LABELS[provider]} name={`${h}-apiKey`} type="password" value={d.apiKey} onChange={(v) => setEnv(h, { apiKey: v })} maxLength={LIMITS.secret}
                          description="Stored encrypted; it can be replaced but never read back." error={serverFieldError('value', h)} />
                      )}
                      <Field label="Service URL for this environment (optional)" name={`${h}-serviceUrl`} type="url" value={d.serviceUrl} onChange={(v) => setEnv(h, { serviceUrl: v })}
                        error={(d.serviceUrl.trim() ? checkServiceUrl(d.serviceUrl) : null) ?? serverFieldError('serviceUrl', h)} />
                      <RateLimitFields legend="Service budget (shared by all connections)" idPrefix={`${h}-limit`} draft={d.rateLimit} onChange={(rateLimit) => setEnv(h, { rateLimit })} enableLabel="Limit tokens" requireMaximum showMissing={show(2)} />
                      <RateLimitFields legend="Default quota of each connection" idPrefix={`${h}-quota`} draft={d.connectionQuota} onChange={(connectionQuota) => setEnv(h, { connectionQuota })} enableLabel="Give each connection a quota" requireMaximum showMissing={show(2)} />
                    </>
                  ) : null}
                </fieldset>
              );
            })}
          </>
        ) : null}
        {error ? <ErrorNotice error={error} /> : null}
        <div className="actions">
          {step > 0 ? <Button className="button secondary" onPress={() => goTo(step - 1, 'heading')} isDisabled={busy}>Back</Button> : null}
          <Button type="submit" className="button" isDisabled={busy}>{step < 2 ? 'Next' : busy ? 'Registering…' : 'Register service'}</Button>
        </div>
      </Form>
    </>
  );
}
