import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType('DataPlaneCredential', { description: 'What proxies of one environment present on the config stream (never shown again after issue).' })
export class DataPlaneCredentialType {
  @Field(() => ID) id: string;
  @Field({ description: 'Environment handle: the only environment whose configuration this credential receives.' }) environment: string;
  @Field() name: string;
  @Field({ description: 'First characters of the token, to tell credentials apart.' }) tokenPrefix: string;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true, description: 'Set once revoked: proxies presenting it are refused, and disconnected within seconds.' }) revokedAt: Date | null;
}

@ObjectType('IssuedDataPlaneCredential')
export class IssuedDataPlaneCredentialType {
  @Field(() => DataPlaneCredentialType) credential: DataPlaneCredentialType;
  @Field({ description: 'The token proxies present as `authorization: Bearer` (TOKENGATE_DATAPLANE_TOKEN of the proxy). Shown only here.' }) token: string;
}
