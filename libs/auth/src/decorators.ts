import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiParam } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { MemberRole } from '@credits/database';
import { ApiErrorResponses, InternalError } from '@credits/errors';
import { AuthGuard } from './guards/auth.guard';
import { MIN_ROLE, OrgAccessGuard } from './guards/org-access.guard';
import type { OrgContext, Principal as PrincipalType } from './principal';

export const BEARER_AUTH = 'bearer';

/**
 * The one access rule for org routes: authenticated, a member of `{org}` with at least
 * `role`. Sets the guards, the Swagger security and the 401/403/404 responses together,
 * so a route cannot be half-protected.
 */
export function OrgRole(role: MemberRole): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(MIN_ROLE, role),
    UseGuards(AuthGuard, OrgAccessGuard),
    ApiBearerAuth(BEARER_AUTH),
    ApiParam({ name: 'org', type: String, description: 'Organization slug', example: 'acme' }),
    ApiErrorResponses('authentication_error', 'expired_token_error', 'forbidden_error', 'not_found_error'),
  );
}

/** The verified caller; fails loudly when AuthGuard did not run. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): PrincipalType => {
  const principal = context.switchToHttp().getRequest<FastifyRequest>().principal;
  if (!principal) throw new InternalError(new Error('@Principal() on a route without AuthGuard'));
  return principal;
});

/** The org of `{org}`, membership checked; fails loudly when OrgAccessGuard did not run. */
export const CurrentOrg = createParamDecorator((_: unknown, context: ExecutionContext): OrgContext => {
  const org = context.switchToHttp().getRequest<FastifyRequest>().org;
  if (!org) throw new InternalError(new Error('@CurrentOrg() on a route without OrgAccessGuard'));
  return org;
});
