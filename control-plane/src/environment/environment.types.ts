import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { EnvironmentEntity } from './environment.entity';

@ObjectType('Environment')
export class EnvironmentType {
  @Field(() => ID) id: string;
  @Field() handle: string;
  @Field() name: string;
  @Field({ description: 'Base URL apps use to reach this environment’s proxies.' }) proxyUrl: string;
  @Field(() => Int, { description: 'Current config revision of the environment’s snapshot (only increases).' }) revision: number;
  @Field() createdAt: Date;

  static from(row: EnvironmentEntity): EnvironmentType {
    return Object.assign(new EnvironmentType(), { id: row.id, handle: row.handle, name: row.name, proxyUrl: row.proxyUrl, revision: row.revision, createdAt: row.createdAt });
  }
}

@InputType()
export class CreateEnvironmentInput {
  @Field() handle: string;
  @Field() name: string;
  @Field({ nullable: true, description: 'Defaults to http://127.0.0.1:8080.' }) proxyUrl?: string;
}
