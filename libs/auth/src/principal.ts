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

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    org?: OrgContext;
  }
}
