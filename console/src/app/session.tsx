// Who is signed in, in which organization and project, and what their role lets them do.
import { createContext, useContext } from 'react';
import { graphql, type ResultOf } from '../graphql/graphql';

export const SessionQuery = graphql(`
  query ConsoleSession {
    viewer { user { email name } isInstallationAdmin memberships { role organization { id } } }
    organizations { id handle name projects { id handle name } }
  }
`);

type SessionData = ResultOf<typeof SessionQuery>;
export type Organization = SessionData['organizations'][number];
export type Project = Organization['projects'][number];

export interface Session {
  viewer: SessionData['viewer'];
  organizations: Organization[];
  organization: Organization | null;
  project: Project | null;
  /** The role in the selected organization ('ADMIN' for installation admins who are not members). */
  role: string | null;
  /** Registers and manages services, sets connection quotas. */
  canManage: boolean;
  selectOrganization(id: string): void;
  selectProject(id: string | null): void;
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in console');
  return session;
}

export function roleIn(viewer: SessionData['viewer'], organizationId: string | undefined): string | null {
  const membership = viewer.memberships.find((m) => m.organization.id === organizationId);
  return membership?.role ?? (viewer.isInstallationAdmin ? 'ADMIN' : null);
}
