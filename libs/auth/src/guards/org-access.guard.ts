import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, InternalError, NotFoundError } from '@credits/errors';
import { ACCESS_RULE, AccessRule } from '../access/access-rule';
import { OrgDirectory, ROLE_RANK } from '../directory/org-directory';

/**
 * Resolves `{org}` for the authenticated caller. An unknown org and an org the caller
 * does not belong to are the same 404, so slugs cannot be enumerated.
 */
@Injectable()
export class OrgAccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly directory: OrgDirectory,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!request.principal || rule?.kind !== 'org-role') {
      throw new InternalError(new Error('OrgAccessGuard used without @OrgRole'));
    }
    const minRole = rule.role;
    const slug = (request.params as Record<string, string | undefined>).org ?? '';
    // Trusted only for this very slug and caller: it was read with the credentials.
    const prefetched = request.prefetchedMembership;
    const org =
      prefetched && prefetched.slug === slug && prefetched.userId === request.principal.userId
        ? prefetched.org
        : await this.directory.findMemberOrg(slug, request.principal.userId);
    if (!org) throw new NotFoundError('Organization not found');
    request.org = org;
    if (ROLE_RANK[org.role] < ROLE_RANK[minRole]) {
      throw new ForbiddenError(
        `This operation requires the ${minRole} role; you are ${org.role === 'admin' ? 'an' : 'a'} ${org.role}`,
      );
    }
    return true;
  }
}
