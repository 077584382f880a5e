import { registerEnumType } from 'type-graphql';

export enum Role {
  ADMIN = 'ADMIN',
  PLATFORM_ENGINEER = 'PLATFORM_ENGINEER',
  DEVELOPER = 'DEVELOPER',
}

registerEnumType(Role, {
  name: 'Role',
  description: 'ADMIN manages members and projects; PLATFORM_ENGINEER registers and manages services; DEVELOPER uses the marketplace and connections.',
});
