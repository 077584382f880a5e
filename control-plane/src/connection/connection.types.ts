import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { GenAIServiceType, RateLimitType } from '../genai-service/genai-service.types';
import { QuotaSource } from './connection-quota.types';

@ObjectType('ConnectionEnvironment', { description: 'How to call the service through the proxy of one environment.' })
export class ConnectionEnvironmentType {
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field({ description: 'Proxy URL of the service: {proxy}/{organization}{context path}.' }) endpointUrl: string;
  @Field(() => String, { nullable: true, description: 'First characters of the consumer key, to tell keys apart.' }) keyPrefix: string | null;
  @Field(() => Date, { nullable: true }) keyCreatedAt: Date | null;
  @Field(() => String, { nullable: true, description: 'First characters of the previous key while it is in its grace period after a rotation; null otherwise.' })
  previousKeyPrefix: string | null;
  @Field(() => Date, { nullable: true, description: 'When the proxies stop accepting the previous key (the end of its grace period); null when there is none.' })
  previousKeyExpiresAt: Date | null;
  @Field({ description: 'Code showing how to call the endpoint with the provider’s official SDK.' }) usageSnippet: string;
  @Field(() => RateLimitType, {
    nullable: true,
    description: "The connection's effective quota in this environment: its own override, else the service's default connection quota; null when neither.",
  })
  quota: RateLimitType | null;
  @Field(() => QuotaSource) quotaSource: QuotaSource;
}

@ObjectType('Connection')
export class ConnectionType {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field(() => ID) projectId: string;
  @Field(() => ID) serviceId: string;
  @Field() name: string;
  @Field() description: string;
  @Field() createdAt: Date;
  // Resolved by field resolvers.
  service?: GenAIServiceType;
  environments?: ConnectionEnvironmentType[];
}

@ObjectType('IssuedConnectionKey', { description: 'A consumer key, shown only in the response that issued it.' })
export class IssuedConnectionKeyType {
  @Field() environment: string;
  @Field() apiKey: string;
  @Field() endpointUrl: string;
  @Field(() => Date, { nullable: true, description: 'rotateConnectionKey with graceSeconds: when the replaced key stops working; null when it stopped at once (or there was none).' })
  previousKeyExpiresAt?: Date | null;
}

@ObjectType('CreateConnectionPayload')
export class CreateConnectionPayload {
  @Field(() => ConnectionType) connection: ConnectionType;
  @Field(() => [IssuedConnectionKeyType]) keys: IssuedConnectionKeyType[];
}

@InputType()
export class CreateConnectionInput {
  @Field(() => ID) projectId: string;
  @Field(() => ID) serviceId: string;
  @Field() name: string;
  @Field(() => String, { nullable: true }) description?: string | null;
}
