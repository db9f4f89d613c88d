import type { FastifyRequest } from 'fastify';
import type { OrgContext } from '../principal';

/**
 * The caller's membership of `{org}`, read by AuthGuard in the same query as the API key
 * so OrgAccessGuard needs no second round trip. Only set when the org directory is the
 * database one (the same tables, the same rule).
 */
export interface PrefetchedOrg {
  slug: string;
  userId: string;
  org: OrgContext | undefined;
}

export const prefetchedOrgs = new WeakMap<FastifyRequest, PrefetchedOrg>();
