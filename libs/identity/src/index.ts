export type { OrgContext, PrefetchedMembership, Principal, ServicePrincipal, UserPrincipal } from './request-identity';
