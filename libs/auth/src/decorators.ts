import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { InternalError } from '@credits/errors';
import type { OrgContext, Principal } from '@credits/identity';

/** The verified caller; fails loudly when AuthGuard did not run. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
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
