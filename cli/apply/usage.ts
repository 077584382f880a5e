// The automation commands' usage text, apart so that `tokengate help` loads nothing else.
import { DEFAULT_GRAPHQL_URL } from './graphql-client';

export const AUTOMATION_USAGE = `  apply -f <file.yaml|json> [--dry-run] [--rotate-secrets]
                        make an organization's services and connections match a declarative file
  get services --organization <handle> [--json]
  remove service <org handle><context path>      e.g. acme/openai: remove it from the marketplace
  connect <org handle><context path> --project <handle> --name <name> [--description <text>]
                        create a connection and print its consumer keys (once)
  automation commands take --url <GraphQL URL> (TOKENGATE_URL, default ${DEFAULT_GRAPHQL_URL})
  and --token <API token> (TOKENGATE_TOKEN)`;
