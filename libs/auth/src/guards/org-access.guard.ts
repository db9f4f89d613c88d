import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { ApiKeyScope, MemberRole } from '@credits/database';
import { ForbiddenError, InternalError, NotFoundError } from '@credits/errors';
import type { OrgContext, Principal } from '@credits/identity';
import { ACCESS_RULE, AccessRule } from '../access/access-rule';
import { grantedScopes, REQUIRED_SCOPES } from '../access/scopes';
import { OrgDirectory, ROLE_RANK } from '../directory/org-directory';

/**
 * Resolves `{org}` for the authenticated caller, then checks its role and its scopes, in that
 * order. An unknown org, an org the caller does not belong to and an org a service key is not
 * allowed on are the same 404, answered before any 403, so slugs cannot be enumerated.
 */
@Injectable()
export class OrgAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly directory: OrgDirectory,
  ) {}

  /** A boolean when the org was read with the credentials (most requests): then Nest waits on no promise. */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const targets = [context.getHandler(), context.getClass()];
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, targets);
    const required = this.reflector.getAllAndOverride<ApiKeyScope[] | undefined>(REQUIRED_SCOPES, targets);
    const principal = request.principal;
    if (!principal || rule?.kind !== 'org-role') {
      throw new InternalError(new Error('OrgAccessGuard used without @OrgRole'));
    }
    // A route that forgot its scope would let any key through: refuse to serve it at all.
    if (!required?.length) throw new InternalError(new Error('@OrgRole route without scopes'));
    const slug = (request.params as Record<string, string | undefined>).org ?? '';
    // Trusted only for this very slug and caller: it was read with the credentials.
    const prefetched = request.prefetchedMembership;
    if (prefetched && prefetched.slug === slug && prefetched.callerId === principal.callerId) {
      return admit(request, principal, rule.role, required, prefetched.org);
    }
    // A service key's orgs are only ever read with the key.
    if (principal.kind === 'service') return admit(request, principal, rule.role, required, undefined);
    return this.directory
      .findMemberOrg(slug, principal.userId)
      .then((org) => admit(request, principal, rule.role, required, org?.role ? org : undefined));
  }
}

/** Sets the request's org, or refuses: 404 for an org the caller may not see, then 403 for a role or scope it lacks. */
function admit(
  request: FastifyRequest,
  principal: Principal,
  role: MemberRole,
  required: ApiKeyScope[],
  org: OrgContext | undefined,
): true {
  if (!org) throw new NotFoundError('Organization not found');
  request.org = org;
  if (principal.kind === 'user' && org.role && ROLE_RANK[org.role] < ROLE_RANK[role]) {
    throw new ForbiddenError(
      `This operation requires the ${role} role; you are ${org.role === 'admin' ? 'an' : 'a'} ${org.role}`,
    );
  }
  // A service key holds no role, and its scopes are member-level ones (it cannot buy), so
  // it ranks as a member: an admin-only route (the member list, with people's emails) is
  // not a machine's to read, whatever scope it carries.
  if (principal.kind === 'service' && ROLE_RANK.member < ROLE_RANK[role]) {
    throw new ForbiddenError(`This operation requires the ${role} role; a service key acts as a member`);
  }
  const granted = grantedScopes(principal, org.role);
  const missing = required.find((scope) => !granted.includes(scope));
  if (missing) throw new ForbiddenError(`This operation requires the ${missing} scope; ${lacking(principal)}`);
  return true;
}

function lacking(principal: Principal): string {
  if (principal.kind === 'service') return 'this service key does not carry it';
  if (principal.via === 'jwt') return 'your role in this organization does not grant it';
  return 'this API key does not grant it in this organization';
}
