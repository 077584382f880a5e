import { Field, ID, InputType, ObjectType } from 'type-graphql';
import type { ProjectEntity } from './project.entity';

@ObjectType('Project')
export class ProjectType {
  @Field(() => ID) id: string;
  @Field(() => ID) organizationId: string;
  @Field() handle: string;
  @Field() name: string;
  @Field() createdAt: Date;

  static from(row: ProjectEntity): ProjectType {
    return Object.assign(new ProjectType(), { id: row.id, organizationId: row.organizationId, handle: row.handle, name: row.name, createdAt: row.createdAt });
  }
}

@InputType()
export class CreateProjectInput {
  @Field(() => ID) organizationId: string;
  @Field() handle: string;
  @Field() name: string;
}
