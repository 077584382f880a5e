// The deployment an Azure OpenAI path names, read once for usage accounting (the request's model) and
// for prompt counting (the model whose encoding counts it).
import { decodePathSegment } from '../shared/path-segment';

/**
 * `…/deployments/{deployment}(/…)`: `/openai/deployments/…` as clients call it, or `/deployments/…`
 * when the service URL already ends in `/openai`. The v1 API (`/openai/v1/…`) names no deployment.
 */
const DEPLOYMENT_PATH = /\/deployments\/([^/]+)(?:\/|$)/;

/** The deployment named by the path (percent-decoded), or null. */
export function azureDeployment(providerPath: string): string | null {
  const deployment = DEPLOYMENT_PATH.exec(providerPath);
  return deployment ? decodePathSegment(deployment[1]) : null;
}
