import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiParam } from '@nestjs/swagger';
import type { MemberRole } from '@credits/database';
import { ApiErrorResponses } from '@credits/errors';
import { ClientVersionGuard, RateBudget, RateLimitBudget, RateLimitGuard } from '@credits/traffic';
import { AuthGuard } from '../guards/auth.guard';
import { OrgAccessGuard } from '../guards/org-access.guard';
import { DeclareAccess } from './access-rule';

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
 * caller's rate limit, allowed on `{org}` (a member of it, or a service key not limited to
 * other orgs), at least `role` (people only: a service key holds no role), and the scopes of
 * the route's `@Scopes`, checked in that order. The
 * rate limit counts the authenticated caller and runs before the org is looked up, so a caller
 * over its budget learns nothing about which orgs exist. Sets the guards, the `X-Client-Version`
 * header and the 400/401/403/404/426/429 responses together, so a route cannot be
 * half-protected; `@Scopes` (required beside it) sets the Swagger security with its scopes.
 */
export function OrgRole(role: MemberRole, { budget = 'read' }: OrgRoleOptions = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(
    DeclareAccess({ kind: 'org-role', role }),
    RateBudget(budget),
    UseGuards(AuthGuard, ClientVersionGuard, RateLimitGuard, OrgAccessGuard),
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
