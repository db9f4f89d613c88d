export type { OrgContext, PrefetchedMembership, Principal } from './request-identity';
