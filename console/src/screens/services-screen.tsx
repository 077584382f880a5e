// The platform engineer's GenAI services area: the organization's and the project's services, their
// marketplace status and the deployment status per environment.
import { Button } from 'react-aria-components';
import { useQuery } from '../api/use-query';
import { href, navigate } from '../app/route';
import { useSession } from '../app/session';
import { graphql, type ResultOf } from '../graphql/graphql';
import { ErrorNotice, Loading, StatusBadge } from '../ui/controls';
import { MARKETPLACE_NAMES, plural, PROVIDER_NAMES } from '../ui/words';

const ServicesQuery = graphql(`
  query ConsoleServices($organizationId: ID!) {
    genAIServices(organizationId: $organizationId) { id name provider scope projectId contextPath marketplaceStatus deployments { environment status revision } }
  }
`);

type ServiceRow = ResultOf<typeof ServicesQuery>['genAIServices'][number];

export function ServicesScreen() {
  const { organization, project, canManage } = useSession();
  const { data, error, reload } = useQuery(ServicesQuery, { organizationId: organization!.id });
  const organizationWide = data?.genAIServices.filter((s) => s.scope === 'ORGANIZATION') ?? [];
  const ofProject = data?.genAIServices.filter((s) => s.scope === 'PROJECT' && s.projectId === project?.id) ?? [];
  return (
    <>
      <div className="title-row">
        <h1 tabIndex={-1}>GenAI services</h1>
        {canManage ? <Button className="button" onPress={() => navigate({ name: 'register' })}>Register a service</Button> : null}
      </div>
      {error ? <ErrorNotice error={error} onRetry={() => void reload()} /> : null}
      {!data && !error ? <Loading what="services" /> : null}
      {data ? (
        <>
          <ServiceTable title={`Organization-wide services of ${organization!.name}`} id="organization-services" services={organizationWide} />
          {project ? <ServiceTable title={`Services of project ${project.name}`} id="project-services" services={ofProject} /> : <p className="muted">This organization has no project: only organization-wide services can be registered.</p>}
        </>
      ) : null}
    </>
  );
}

function ServiceTable({ title, id, services }: { title: string; id: string; services: ServiceRow[] }) {
  return (
    <section aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title} <span className="muted count">({plural(services.length, 'service')})</span></h2>
      {services.length ? (
        <div className="table-scroll">
          <table id={id}>
            <thead><tr><th scope="col">Name</th><th scope="col">Provider</th><th scope="col">Context path</th><th scope="col">Marketplace</th><th scope="col">Deployments</th></tr></thead>
            <tbody>
              {services.map((s) => (
                <tr key={s.id} data-service={s.name}>
                  <th scope="row"><a href={href({ name: 'service', id: s.id })}>{s.name}</a></th>
                  <td>{PROVIDER_NAMES[s.provider]}</td>
                  <td><code>{s.contextPath}</code></td>
                  <td><span className={`badge market-${s.marketplaceStatus.toLowerCase()}`}>{MARKETPLACE_NAMES[s.marketplaceStatus]}</span></td>
                  <td>{s.deployments.length ? s.deployments.map((d) => <div key={d.environment} className="deployment-line">{d.environment}: <StatusBadge status={d.status} /></div>) : <span className="muted">none yet</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : <p className="muted">None yet.</p>}
    </section>
  );
}
