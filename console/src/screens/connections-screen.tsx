// The project's connections, a page at a time (oldest first): what each calls, its keys' prefixes,
// and delete (with a confirmation).
import { useEffect, useState } from 'react';
import { Button } from 'react-aria-components';
import { request } from '../api/client';
import { useQuery } from '../api/use-query';
import { href } from '../app/route';
import { useSession } from '../app/session';
import { graphql, type ResultOf } from '../graphql/graphql';
import { ConfirmDialog, ErrorNotice, Loading } from '../ui/controls';
import { plural, PROVIDER_NAMES, when } from '../ui/words';

/** Connections per page. One more is asked for, to know whether another page follows. */
export const CONNECTIONS_PAGE = 100;

const ConnectionsQuery = graphql(`
  query ConsoleConnections($projectId: ID!, $first: Int, $after: ID) {
    connections(projectId: $projectId, first: $first, after: $after) { id name description createdAt service { id name provider marketplaceStatus } environments { environment keyPrefix } }
  }
`);

type Connection = ResultOf<typeof ConnectionsQuery>['connections'][number];

export const DeleteConnection = graphql(`mutation ConsoleDeleteConnection($id: ID!) { deleteConnection(id: $id) }`);

export function ConnectionsScreen() {
  const { project, organization } = useSession();
  if (!project) {
    return (<><h1 tabIndex={-1}>Connections</h1><p>Connections belong to a project, and {organization!.name} has no project yet. Ask an organization admin to create one.</p></>);
  }
  return <ProjectConnections projectId={project.id} projectName={project.name} />;
}

function ProjectConnections({ projectId, projectName }: { projectId: string; projectName: string }) {
  const { data, error, reload } = useQuery(ConnectionsQuery, { projectId, first: CONNECTIONS_PAGE + 1 });
  // Pages after the first, and whether one more follows; a reload of the first page starts again.
  const [later, setLater] = useState<{ rows: Connection[]; more: boolean } | null>(null);
  const [gone, setGone] = useState<ReadonlySet<string>>(new Set());
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState<{ id: string; name: string } | null>(null);
  useEffect(() => {
    setLater(null);
    setGone(new Set());
    setMoreError(null);
  }, [data]);

  const rows = [...(data?.connections.slice(0, CONNECTIONS_PAGE) ?? []), ...(later?.rows ?? [])].filter((c) => !gone.has(c.id));
  const more = later ? later.more : (data?.connections.length ?? 0) > CONNECTIONS_PAGE;
  const showMore = async () => {
    setLoadingMore(true);
    setMoreError(null);
    try {
      // After the last connection still listed: a deleted one is no longer a place to start from.
      const page = await request(ConnectionsQuery, { projectId, first: CONNECTIONS_PAGE + 1, after: rows[rows.length - 1]?.id ?? null });
      setLater({ rows: [...(later?.rows ?? []), ...page.connections.slice(0, CONNECTIONS_PAGE)], more: page.connections.length > CONNECTIONS_PAGE });
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Connections</h1>
      <p className="muted">Connections of project {projectName}, oldest first. Create one from a service in the <a href={href({ name: 'marketplace' })}>marketplace</a>.</p>
      {error ? <ErrorNotice error={error} onRetry={() => void reload()} /> : null}
      {!data && !error ? <Loading what="connections" /> : null}
      {data ? (
        <>
          <p className="muted" role="status" id="connection-count" tabIndex={-1}>{plural(rows.length, 'connection')}{more ? ' shown; there are more' : ''}</p>
          <div className="table-scroll">
            <table id="connections">
              <thead><tr><th scope="col">Name</th><th scope="col">Service</th><th scope="col">Keys</th><th scope="col">Created</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr></thead>
              <tbody>
                {rows.map((c) => (
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
          {rows.length === 0 && !more ? <p>No connection yet.</p> : null}
          {moreError ? <ErrorNotice error={moreError} onRetry={() => void reload()} /> : null}
          {more ? <Button className="button secondary" isDisabled={loadingMore} onPress={() => void showMore()}>{loadingMore ? 'Loading…' : `Show ${CONNECTIONS_PAGE} more`}</Button> : null}
        </>
      ) : null}
      <ConfirmDialog
        title={`Delete connection ${deleting?.name ?? ''}?`}
        isOpen={deleting !== null}
        danger
        confirmLabel="Delete connection"
        onCancel={() => setDeleting(null)}
        onConfirm={async () => {
          const { id } = deleting!;
          await request(DeleteConnection, { id });
          const index = rows.findIndex((c) => c.id === id);
          setDeleting(null);
          // Dropped where it is listed: the pages shown so far stay as they are.
          setGone((ids) => new Set([...ids, id]));
          // Its Delete button is gone: focus the next row's (or the previous one's), else the count.
          // (After the dialog's own focus restoration, which finds its trigger gone.)
          requestAnimationFrame(() => setTimeout(() => {
            const buttons = document.querySelectorAll<HTMLElement>('#connections tbody button');
            (buttons[Math.max(0, Math.min(index, buttons.length - 1))] ?? document.getElementById('connection-count'))?.focus();
          }, 0));
        }}
      >
        <p>Its keys stop working within seconds, in every environment. Apps using them will get 401 errors. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
