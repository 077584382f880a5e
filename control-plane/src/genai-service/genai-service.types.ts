import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { DeploymentType } from '../deployment/deployment.types';
import { BackendAuthType, MarketplaceStatus, Provider, RegistrationScope, TimeUnit } from './provider';

@ObjectType('BackendSecurity', { description: 'How the proxy authenticates to the provider. Secrets are never returned.' })
export class BackendSecurityType {
  @Field(() => BackendAuthType) authType: BackendAuthType;
  @Field({ description: 'Header carrying the provider key (API_KEY); "Authorization" for SigV4.' }) headerName: string;
  @Field({ description: 'True once credentials are stored.' }) configured: boolean;
  @Field(() => String, { nullable: true, description: 'Masked hint, e.g. "…9f3a".' }) hint: string | null;
  @Field(() => String, { nullable: true, description: 'Azure api-version or anthropic-version sent upstream.' }) apiVersion: string | null;
  @Field(() => String, { nullable: true }) awsRegion: string | null;
}

@ObjectType('RateLimit', { description: 'Token budgets per fixed UTC window, shared by every proxy of the environment. Null = unlimited.' })
export class RateLimitType {
  @Field(() => TimeUnit) timeUnit: TimeUnit;
  @Field(() => Int, { nullable: true }) maxPromptTokens: number | null;
  @Field(() => Int, { nullable: true }) maxCompletionTokens: number | null;
  @Field(() => Int, { nullable: true }) maxTotalTokens: number | null;
  @Field({ description: 'false: shadow mode — the budget is counted but never refuses; requests it would have refused are counted in usage as wouldHaveRefused' })
  enforce: boolean;
}

@ObjectType('ServiceEnvironmentConfig')
export class ServiceEnvironmentConfigType {
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field(() => BackendSecurityType) backendSecurity: BackendSecurityType;
  @Field(() => RateLimitType, { nullable: true, description: "The service's budget in this environment, shared by all its connections; null: unlimited." })
  rateLimit: RateLimitType | null;
  @Field(() => RateLimitType, { nullable: true, description: 'The default quota of each connection in this environment (a connection may override it); null: none.' })
  connectionQuota: RateLimitType | null;
  @Field({
    description:
      "When a streamed completion without max_tokens runs past what its budgets allow, the proxy ends it in the provider's format with the length stop reason; off: the stream completes and is charged in full.",
  })
  streamCutoff: boolean;
  @Field(() => String, { nullable: true, description: 'Per-environment override of the service URL.' }) serviceUrl: string | null;
  @Field({ description: 'The URL the proxies of this environment call.' }) effectiveServiceUrl: string;
  @Field() updatedAt: Date;
}

@ObjectType('GenAIService')
export class GenAIServiceType {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => ID, { nullable: true }) projectId: string | null;
  @Field(() => RegistrationScope) scope: RegistrationScope;
  @Field(() => Provider) provider: Provider;
  @Field() name: string;
  @Field() contextPath: string;
  @Field() serviceUrl: string;
  @Field() summary: string;
  @Field() description: string;
  @Field(() => [String]) labels: string[];
  @Field(() => MarketplaceStatus) marketplaceStatus: MarketplaceStatus;
  @Field(() => Date, { nullable: true }) removedAt: Date | null;
  @Field() createdAt: Date;
  @Field() updatedAt: Date;
  // Resolved by field resolvers:
  environmentConfigs?: ServiceEnvironmentConfigType[];
  deployments?: DeploymentType[];
}

@InputType()
export class BackendSecurityInput {
  @Field(() => String, { nullable: true, description: 'Defaults per provider: Authorization (OpenAI, Mistral, Bedrock API key), api-key (Azure), x-api-key (Anthropic).' })
  headerName?: string | null;
  @Field(() => String, { nullable: true, description: 'The provider API key (Bedrock: an API key, sent as Bearer). Write-only.' })
  value?: string | null;
  @Field(() => String, { nullable: true, description: 'Azure OpenAI: the api-version added to deployment paths when the client sends none ("": none, as the v1 API takes); Anthropic: anthropic-version. null: the provider default.' })
  apiVersion?: string | null;
  @Field(() => String, { nullable: true }) awsRegion?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) awsAccessKeyId?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only.' }) awsSecretAccessKey?: string | null;
  @Field(() => String, { nullable: true, description: 'Write-only. Null clears it.' }) awsSessionToken?: string | null;
}

@InputType({ description: 'Maxes are positive integers; a max left out (or null) is unlimited in that dimension.' })
export class RateLimitInput {
  @Field(() => TimeUnit) timeUnit: TimeUnit;
  @Field(() => Int, { nullable: true }) maxPromptTokens?: number | null;
  @Field(() => Int, { nullable: true }) maxCompletionTokens?: number | null;
  @Field(() => Int, { nullable: true }) maxTotalTokens?: number | null;
  @Field(() => Boolean, { nullable: true, defaultValue: true, description: 'false: shadow mode (counted, never refuses).' })
  enforce?: boolean | null;
}

@InputType({
  description:
    'Omitted fields keep their value; rateLimit: null removes the limits; connectionQuota: null removes the default quota of connections; serviceUrl: null removes the override.',
})
export class ConfigureServiceEnvironmentInput {
  @Field(() => BackendSecurityInput, { nullable: true }) backendSecurity?: BackendSecurityInput | null;
  @Field(() => RateLimitInput, { nullable: true }) rateLimit?: RateLimitInput | null;
  @Field(() => RateLimitInput, { nullable: true, description: 'The default quota of each connection in this environment (omitted keeps it, null removes it).' })
  connectionQuota?: RateLimitInput | null;
  @Field(() => Boolean, { nullable: true, description: 'End streamed completions without max_tokens that run past their budgets (omitted keeps it; off by default).' })
  streamCutoff?: boolean | null;
  @Field(() => String, { nullable: true }) serviceUrl?: string | null;
}

@InputType()
export class ServiceEnvironmentInput extends ConfigureServiceEnvironmentInput {
  @Field({ description: 'Environment handle.' }) environment: string;
}

@InputType()
export class RegisterGenAIServiceInput {
  @Field(() => ID) organizationId: string;
  @Field(() => ID, { nullable: true, description: 'Required for PROJECT scope, omitted for ORGANIZATION scope.' }) projectId?: string | null;
  @Field(() => RegistrationScope) scope: RegistrationScope;
  @Field(() => Provider) provider: Provider;
  @Field() name: string;
  @Field({ description: 'Unique within the organization, e.g. "/openai-prod".' }) contextPath: string;
  @Field({ description: 'The provider endpoint, e.g. https://api.openai.com/v1.' }) serviceUrl: string;
  @Field(() => String, { nullable: true }) summary?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => [String], { nullable: true }) labels?: string[] | null;
  @Field(() => [ServiceEnvironmentInput], { nullable: true }) environments?: ServiceEnvironmentInput[] | null;
}

@InputType({ description: 'Omitted fields keep their value.' })
export class UpdateGenAIServiceInput {
  @Field(() => String, { nullable: true }) name?: string | null;
  @Field(() => String, { nullable: true }) contextPath?: string | null;
  @Field(() => String, { nullable: true }) serviceUrl?: string | null;
  @Field(() => String, { nullable: true }) summary?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => [String], { nullable: true }) labels?: string[] | null;
}

@InputType()
export class MarketplaceFilter {
  @Field(() => String, { nullable: true, description: 'Words matched (all of them, case-insensitively) in name, summary and description.' }) search?: string | null;
  @Field(() => [String], { nullable: true, description: 'Services carrying all of these labels.' }) labels?: string[] | null;
  @Field(() => [Provider], { nullable: true }) providers?: Provider[] | null;
  @Field(() => RegistrationScope, { nullable: true }) scope?: RegistrationScope | null;
}
