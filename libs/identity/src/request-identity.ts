import type { ApiKeyScope, MemberRole } from '@credits/database';

/** What every verified caller has, whoever it is. */
interface CallerBase {
  /**
   * Who the caller is for per-caller state: the user's id for a person (whichever key or token
   * they use), the key's id for a service key. A UUID, so it fits the idempotency store's
   * `user_id` column; user ids and key ids are both random UUIDs and do not collide.
   */
  callerId: string;
  /** The key's id when authenticated by API key (rate limits are per key). */
  apiKeyId?: string;
}

/** A person, by their API key or a JWT. What they may do follows their role in each org. */
export interface UserPrincipal extends CallerBase {
  kind: 'user';
  userId: string;
  email: string;
  via: 'api_key' | 'jwt';
  /**
   * The key's own `--scope` list, which narrows what the role allows in each org (and is the
   * only way to `credits:spend`); null: exactly what the role allows. Always null for a JWT.
   */
  scopes: readonly ApiKeyScope[] | null;
}

/** A host backend's service key: no user and no role; its scopes are all its authority. */
export interface ServicePrincipal extends CallerBase {
  kind: 'service';
  serviceName: string;
  via: 'api_key';
  apiKeyId: string;
  scopes: readonly ApiKeyScope[];
}

/** Who is calling, once AuthGuard has verified the credentials. */
export type Principal = UserPrincipal | ServicePrincipal;

/** The organization a route acts on, once OrgAccessGuard has checked the caller may. */
export interface OrgContext {
  id: string;
  slug: string;
  name: string;
  stripeCustomerId: string | null;
  /** The caller's role in the org; null for a service key, which holds none. */
  role: MemberRole | null;
}

/**
 * The caller's access to `{org}` as AuthGuard read it in the same query as the API key, so
 * OrgAccessGuard needs no second round trip. `org` is undefined when the org is unknown, the
 * user is not a member of it, or the service key is limited to other orgs (all the same 404).
 */
export interface PrefetchedMembership {
  slug: string;
  callerId: string;
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
    /** Set by AuthGuard when it read the org with the API key; consumed by OrgAccessGuard. */
    prefetchedMembership?: PrefetchedMembership;
    /** Set by OrgAccessGuard once the caller's access to `{org}` is checked. */
    org?: OrgContext;
  }
}
