import type { MemberRole } from '@credits/database';

/** Who is calling, once AuthGuard has verified the credentials. */
export interface Principal {
  userId: string;
  email: string;
  via: 'api_key' | 'jwt';
  /** The key's id when authenticated by API key (rate limits are per key). */
  apiKeyId?: string;
}

/** The organization a route acts on, once OrgAccessGuard has checked membership. */
export interface OrgContext {
  id: string;
  slug: string;
  name: string;
  stripeCustomerId: string | null;
  role: MemberRole;
}

/**
 * The caller's membership of `{org}` as AuthGuard read it in the same query as the API key,
 * so OrgAccessGuard needs no second round trip. `org` is undefined when the org is unknown or
 * the caller is not a member of it.
 */
export interface PrefetchedMembership {
  slug: string;
  userId: string;
  org: OrgContext | undefined;
}

/**
 * What the guards learn about a request, in the order they learn it. Declared here, below
 * both `@credits/auth` (which sets them) and `@credits/traffic` (which reads the principal
 * to count a caller), so neither library has to import the other for it.
 */
declare module 'fastify' {
  interface FastifyRequest {
    /** Set by AuthGuard. */
    principal?: Principal;
    /** Set by AuthGuard when it read the membership with the API key; consumed by OrgAccessGuard. */
    prefetchedMembership?: PrefetchedMembership;
    /** Set by OrgAccessGuard once the caller's membership of `{org}` is checked. */
    org?: OrgContext;
  }
}
