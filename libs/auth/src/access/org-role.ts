import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiParam, ApiSecurity } from '@nestjs/swagger';
import type { ApiKeyScope, MemberRole } from '@credits/database';
import { ApiErrorResponses } from '@credits/errors';
import { ClientVersionGuard, RateBudget, RateLimitBudget, RateLimitGuard } from '@credits/traffic';
import { AuthGuard } from '../guards/auth.guard';
import { OrgAccessGuard } from '../guards/org-access.guard';
import { BEARER_AUTH, DeclareAccess } from './access-rule';
import { REQUIRED_SCOPES } from './scopes';

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
 * other orgs), at least `role` (people only: a service key holds no role), and `scopes`,
 * checked in that order: `@OrgRole('member', 'credits:spend')`. The scopes are an argument,
 * not a decorator of their own, so an org route that forgets them does not compile. The
 * rate limit counts the authenticated caller and runs before the org is looked up, so a caller
 * over its budget learns nothing about which orgs exist. Sets the guards, the `X-Client-Version`
 * header and the 400/401/403/404/426/429 responses together, so a route cannot be
 * half-protected; the scopes are also the route's Swagger security.
 */
export function OrgRole(
  role: MemberRole,
  scopes: ApiKeyScope | readonly [ApiKeyScope, ...ApiKeyScope[]],
  { budget = 'read' }: OrgRoleOptions = {},
): MethodDecorator & ClassDecorator {
  const [scope, ...more] = typeof scopes === 'string' ? [scopes] : scopes;
  return applyDecorators(
    DeclareAccess({ kind: 'org-role', role }),
    Scopes(scope, ...more),
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

/**
 * The scopes a caller must hold to call the route, set by its `@OrgRole(role, scopes)`. A
 * person needs the role AND the scope; a service key has no role, so the scope is all its
 * authority. Also the route's OpenAPI security: `[{ bearer: [<scopes>] }]`.
 */
const Scopes = (scope: ApiKeyScope, ...more: ApiKeyScope[]): MethodDecorator & ClassDecorator =>
  applyDecorators(SetMetadata(REQUIRED_SCOPES, [scope, ...more]), ApiSecurity(BEARER_AUTH, [scope, ...more]));
