import { createOpenAiCompatibleUsageAccounting, type OpenAiCompatibleRequest } from '../shared/openai-compatible-usage';
import { azureDeployment } from './azure-openai-path';

/** The first GA/preview api-version whose chat completions accept `stream_options`. */
const FIRST_API_VERSION_WITH_STREAM_OPTIONS = '2024-09-01';

/**
 * Azure OpenAI differs from OpenAI by naming the model in the path (the deployment; the v1 API
 * `/openai/v1/...` names it in the body) and by where `stream_options` is accepted: api-versions
 * before 2024-09-01(-preview) and "On Your Data" requests (`data_sources`) reject it with a 400, so
 * those streams are left alone and counted from their text.
 */
export const azureOpenAiUsageAccounting = createOpenAiCompatibleUsageAccounting({
  modelFromPath: azureDeployment,
  acceptsStreamOptions: acceptsStreamOptions,
  reportsUsageOfEveryTokenCharge: true,
});

function acceptsStreamOptions(request: OpenAiCompatibleRequest): boolean {
  if (request.json.data_sources !== undefined || request.json.dataSources !== undefined) return false; // dataSources: the older extensions API
  if (request.query === undefined || request.query.length <= 1) return true;
  const versions = new URLSearchParams(request.query.slice(1)).getAll('api-version');
  const version = versions[versions.length - 1];
  const date = version === undefined ? null : /^\d{4}-\d{2}-\d{2}/.exec(version);
  return date === null || date[0] >= FIRST_API_VERSION_WITH_STREAM_OPTIONS;
}
