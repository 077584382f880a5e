import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { TimeUnit } from '../genai-service/provider';

export enum QuotaSource {
  NONE = 'NONE',
  SERVICE_DEFAULT = 'SERVICE_DEFAULT',
  CONNECTION_OVERRIDE = 'CONNECTION_OVERRIDE',
}

export enum BudgetSource {
  SERVICE = 'SERVICE',
  SERVICE_DEFAULT = 'SERVICE_DEFAULT',
  CONNECTION_OVERRIDE = 'CONNECTION_OVERRIDE',
}

export enum TokenDimension {
  PROMPT = 'PROMPT',
  COMPLETION = 'COMPLETION',
  TOTAL = 'TOTAL',
}

registerEnumType(QuotaSource, {
  name: 'QuotaSource',
  description: "Where a connection's quota comes from: none, its service's default connection quota, or the connection's own override.",
});
registerEnumType(BudgetSource, {
  name: 'BudgetSource',
  description:
    "SERVICE: the service's shared budget of the environment (it limits every connection); SERVICE_DEFAULT: the service's default quota of each connection; CONNECTION_OVERRIDE: the connection's own quota.",
});
registerEnumType(TokenDimension, { name: 'TokenDimension' });

@ObjectType('ConnectionBudget', { description: 'One budget that applies to the connection now, in one dimension, with what the current window has used (as the proxies count it).' })
export class ConnectionBudgetType {
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field(() => BudgetSource) source: BudgetSource;
  @Field(() => TokenDimension) dimension: TokenDimension;
  @Field(() => TimeUnit) timeUnit: TimeUnit;
  @Field(() => Int, { description: 'Tokens the window allows.' }) limit: number;
  @Field(() => Int, { description: 'Tokens used in the current window (reserved by requests in flight included).' }) used: number;
  @Field(() => Int, { description: 'limit - used, at least 0.' }) remaining: number;
  @Field({ description: 'End of the current window (UTC), when used starts again from 0.' }) resetsAt: Date;
  @Field({ description: 'false: shadow mode (counted, never refuses).' }) enforce: boolean;
}
