// The project's connections: what each calls, its keys' prefixes, and delete (with a confirmation).
import { useState } from 'react';
import { Button } from 'react-aria-components';
import { request } from '../api/client';
import { useQuery } from '../api/use-query';
import { href } from '../app/route';
import { useSession } from '../app/session';
import { graphql } from '../graphql/graphql';
import { ConfirmDialog, ErrorNotice, Loading } from '../ui/controls';
import { plural, PROVIDER_NAMES, when } from '../ui/words';

const ConnectionsQuery = graphql(`
  query ConsoleConnections($projectId: ID!) {
    connections(projectId: $projectId) { id name description createdAt service { id name provider marketplaceStatus } environments { environment keyPrefix } }
  }
`);

export const DeleteConnection = graphql(`mutation ConsoleDeleteConnection($id: ID!) { deleteConnection(id: $id) }`);

export function ConnectionsScreen() {
  const { project, organization } = useSession();
  if (!project) {
    return (<><h1 tabIndex={-1}>Connections</h1><p>Connections belong to a project, and {organization!.name} has no project yet. Ask an organization admin to create one.</p></>);
  }
  return <ProjectConnections projectId={project.id} projectName={project.name} />;
}

function ProjectConnections({ projectId, projectName }: { projectId: string; projectName: string }) {
  const { data, error, reload } = useQuery(ConnectionsQuery, { projectId });
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Connections</h1>
      <p className="muted">Connections of project {projectName}. Create one from a service in the <a href={href({ name: 'marketplace' })}>marketplace</a>.</p>
      {error ? <ErrorNotice error={error} onRetry={() => void reload()} /> : null}
      {!data && !error ? <Loading what="connections" /> : null}
      {data ? (
        <>
          <p className="muted" role="status">{plural(data.connections.length, 'connection')}</p>
          <div className="table-scroll">
            <table id="connections">
              <thead><tr><th scope="col">Name</th><th scope="col">Service</th><th scope="col">Keys</th><th scope="col">Created</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
              <tbody>
                {data.connections.map((c) => (
                  <tr key={c.id} data-connection={c.name}>
                    <th scope="row"><a href={href({ name: 'connection', id: c.id })}>{c.name}</a>{c.description ? <div className="muted">{c.description}</div> : null}</th>
                    <td>{c.service.name} <span className="muted">({PROVIDER_NAMES[c.service.provider]})</span></td>
                    <td>{c.environments.map((e) => <div key={e.environment}>{e.environment}: <code>{e.keyPrefix ? `${e.keyPrefix}…` : 'none'}</code></div>)}</td>
                    <td>{when(c.createdAt)}</td>
                    <td><Button className="button danger small" aria-label={`Delete connection ${c.name}`} onPress={() => setDeleting({ id: c.id, name: c.name })}>Delete</Button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {data.connections.length === 0 ? <p>No connection yet.</p> : null}
        </>
      ) : null}
      <ConfirmDialog
        title={`Delete connection ${deleting?.name ?? ''}?`}
        isOpen={deleting !== null}
        danger
        confirmLabel="Delete connection"
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          await request(DeleteConnection, { id: deleting!.id });
          setDeleting(null);
          await reload();
        }}
      >
        <p>Its keys stop working within seconds, in every environment. Apps using them will get 401 errors. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
