import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiParam } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { MemberRole } from '@credits/database';
import { ApiErrorResponses, InternalError } from '@credits/errors';
import type { OrgContext, Principal as PrincipalType } from '@credits/identity';
import { ClientVersionGuard, RateLimitGuard } from '@credits/traffic';
import { AuthGuard } from './guards/auth.guard';
import { MIN_ROLE, OrgAccessGuard } from './guards/org-access.guard';

export const BEARER_AUTH = 'bearer';

/**
 * The access rule of org routes: authenticated, a client version still served, within the
 * caller's rate limit, a member of `{org}` with at least `role`, checked in that order. The
 * rate limit counts the authenticated caller and runs before the org is looked up, so a caller
 * over its budget learns nothing about which orgs exist. Sets the guards, the Swagger
 * security, the `X-Client-Version` header and the 400/401/403/404/426/429 responses together,
 * so a route cannot be half-protected.
 */
export function OrgRole(role: MemberRole): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(MIN_ROLE, role),
    UseGuards(AuthGuard, ClientVersionGuard, RateLimitGuard, OrgAccessGuard),
    ApiBearerAuth(BEARER_AUTH),
    ApiParam({ name: 'org', type: String, description: 'Organization slug', example: 'acme' }),
    ApiHeader({
      name: 'X-Client-Version',
      required: false,
      description:
        "The calling client's version (semver, e.g. `1.4.0`). Below the server's minimum: 426 `upgrade_required_error` naming it; " +
        'not a version: 400. Omit it when the caller is not a versioned client.',
      schema: { type: 'string', example: '1.4.0' },
    }),
    ApiErrorResponses(
      'invalid_request_error',
      'authentication_error',
      'expired_token_error',
      'forbidden_error',
      'not_found_error',
      'upgrade_required_error',
      'rate_limit_error',
    ),
  );
}

/** The verified caller; fails loudly when AuthGuard did not run. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): PrincipalType => {
  const principal = context.switchToHttp().getRequest<FastifyRequest>().principal;
  if (!principal) throw new InternalError(new Error('@CurrentPrincipal() on a route without AuthGuard'));
  return principal;
});

/** The org of `{org}`, membership checked; fails loudly when OrgAccessGuard did not run. */
export const CurrentOrg = createParamDecorator((_: unknown, context: ExecutionContext): OrgContext => {
  const org = context.switchToHttp().getRequest<FastifyRequest>().org;
  if (!org) throw new InternalError(new Error('@CurrentOrg() on a route without OrgAccessGuard'));
  return org;
});
