import { applyDecorators } from '@nestjs/common';
import { ApiNoCredentials, DeclareAccess } from './access-rule';

/**
 * A route anyone may call, with no credentials and no rate limit (health probes). Opening a
 * route is a decision: `reason` says why, next to the route.
 */
export const Public = (reason: string): MethodDecorator =>
  applyDecorators(DeclareAccess({ kind: 'public', reason }), ApiNoCredentials());
