import { SetMetadata } from '@nestjs/common';
import { DECORATORS } from '@nestjs/swagger';
import type { MemberRole } from '@credits/database';

/**
 * Who may call a route. Every route declares exactly one, through its decorator (`@OrgRole`,
 * `@StripeSignature`, `@Public`); a test lists every route of the app and fails on one that
 * declares none, so a route cannot be left open by forgetting.
 */
export type AccessRule =
  { kind: 'org-role'; role: MemberRole } | { kind: 'stripe-signature' } | { kind: 'public'; reason: string };

export const ACCESS_RULE = Symbol('accessRule');

/** The name of the bearer security scheme in the OpenAPI document. */
export const BEARER_AUTH = 'bearer';

export const DeclareAccess = (rule: AccessRule): MethodDecorator & ClassDecorator => SetMetadata(ACCESS_RULE, rule);

/**
 * `security: []` on the OpenAPI operation: it takes no bearer credentials. Set on the
 * operation object itself because `@nestjs/swagger` drops an empty `@ApiSecurity` list;
 * merged with what `@ApiOperation` declares, whichever of the two runs first.
 */
export function ApiNoCredentials(): MethodDecorator {
  return (_target, _key, descriptor) => {
    const operation = Reflect.getMetadata(DECORATORS.API_OPERATION, descriptor.value as object) as object | undefined;
    Reflect.defineMetadata(DECORATORS.API_OPERATION, { ...operation, security: [] }, descriptor.value as object);
  };
}
