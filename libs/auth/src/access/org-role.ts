import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiParam } from '@nestjs/swagger';
import type { MemberRole } from '@credits/database';
import { ApiErrorResponses } from '@credits/errors';
import { ClientVersionGuard, RateBudget, RateLimitBudget, RateLimitGuard } from '@credits/traffic';
import { AuthGuard } from '../guards/auth.guard';
import { OrgAccessGuard } from '../guards/org-access.guard';
import { DeclareAccess } from './access-rule';

export const BEARER_AUTH = 'bearer';

export interface OrgRoleOptions {
  /**
   * The rate-limit budget the route counts against: `read` unless the route says otherwise.
   * A route that writes declares its own (`{ budget: 'checkout' }`); the route inventory test
   * fails on a route other than GET that counts against `read`.
   */
  budget?: RateLimitBudget;
}

/**
 * The access rule of org routes: authenticated, a client version still served, within the
 * caller's rate limit, a member of `{org}` with at least `role`, checked in that order. The
 * rate limit counts the authenticated caller and runs before the org is looked up, so a caller
 * over its budget learns nothing about which orgs exist. Sets the guards, the Swagger
 * security, the `X-Client-Version` header and the 400/401/403/404/426/429 responses together,
 * so a route cannot be half-protected.
 */
export function OrgRole(role: MemberRole, { budget = 'read' }: OrgRoleOptions = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(
    DeclareAccess({ kind: 'org-role', role }),
    RateBudget(budget),
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
