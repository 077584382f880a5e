// The automation commands' usage text, apart so that `tokengate help` loads nothing else.
import { DEFAULT_GRAPHQL_URL } from './graphql-client';

export const AUTOMATION_USAGE = `  create organization <handle> [--name <name>]
  create project <handle> --organization <handle> [--name <name>]
  apply -f <file.yaml|json> [--dry-run] [--rotate-secrets]
                        make an organization's services and connections match a declarative file
  get services --organization <handle> [--json]
  remove service <org handle><context path>      e.g. acme/openai: remove it from the marketplace
  connect <org handle><context path> --project <handle> --name <name> [--description <text>]
                        create a connection and print its consumer keys (once)
  get marketplace --organization <handle> [--project <handle>] [--search <text>]
  get connections --organization <handle> --project <handle>
  get deployments <org handle><context path>     status per environment, proxies applied
  get usage --organization <handle> [--service <context path>] [--environment <handle>] [--hours 24]
                        requests and tokens per environment, service and connection: who used what
  rotate key --organization <handle> --project <handle> --name <connection> --environment <handle>
             [--grace-seconds <n>]  print a new consumer key; the old one stops (after the grace)
  delete connection --organization <handle> --project <handle> --name <connection>
  automation commands take --url <GraphQL URL> (TOKENGATE_URL, default ${DEFAULT_GRAPHQL_URL})
  and --token <API token> (TOKENGATE_TOKEN)`;
