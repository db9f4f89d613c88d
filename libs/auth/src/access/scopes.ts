import type { ApiKeyScope, MemberRole } from '@credits/database';
import type { Principal } from '@credits/identity';

export const REQUIRED_SCOPES = Symbol('requiredScopes');

/**
 * What a role allows by default, in every org the person holds it. `credits:spend` is never
 * implied: metering is a host backend's job, so a person's key gets it only from an explicit
 * `--scope`.
 */
export const ROLE_SCOPES: Record<MemberRole, readonly ApiKeyScope[]> = {
  member: ['org:read', 'credits:read'],
  admin: ['org:read', 'credits:read', 'credits:purchase'],
  owner: ['org:read', 'credits:read', 'credits:purchase'],
};

/**
 * The scopes a caller holds in an org where it has `role` (null: a service key). A service
 * key: exactly its own. A person: their role's defaults; a key with its own `--scope` list
 * narrows them to that list, and may add `credits:spend` (the route's role check still
 * applies). Evaluated per org at request time: the same key may hold different roles in two orgs.
 */
export function grantedScopes(principal: Principal, role: MemberRole | null): readonly ApiKeyScope[] {
  if (principal.kind === 'service') return principal.scopes;
  const defaults = role ? ROLE_SCOPES[role] : [];
  if (principal.scopes === null) return defaults;
  return principal.scopes.filter((scope) => scope === 'credits:spend' || defaults.includes(scope));
}
