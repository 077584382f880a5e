import { Field, Int, ObjectType } from 'type-graphql';
import { TimeUnit } from '../genai-service/provider';

@ObjectType('UsageWindow', { description: 'Tokens charged in one rate-limit window (as reported by the proxies).' })
export class UsageWindowType {
  @Field({ description: 'Environment handle.' }) environment: string;
  @Field(() => TimeUnit) windowUnit: TimeUnit;
  @Field() windowStart: Date;
  @Field(() => Int) promptTokens: number;
  @Field(() => Int) completionTokens: number;
  @Field(() => Int) totalTokens: number;
  @Field(() => Int) requests: number;
}
