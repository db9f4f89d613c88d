import type { FastifyRequest } from 'fastify';
import type { Principal } from '@credits/identity';
// The deadline module alone: the CLI logs through this file and must not load the HTTP stack.
import { currentRequestScope, type RequestScope } from '@credits/traffic/deadline';

/**
 * The request being served, for every log line written while serving it: its id, and the
 * user and org once the guards have set them on the request. It is the request's one scope
 * (`runInRequestScope`), beside its deadline.
 */
export interface RequestContext extends RequestScope {
  request_id: string;
  request: FastifyRequest;
}

function isRequestContext(scope: RequestScope | undefined): scope is RequestContext {
  return scope !== undefined && 'request_id' in scope;
}

/** The fields a log line carries about the current request (none outside a request). */
export function requestLogFields(): Record<string, string | undefined> {
  const store = currentRequestScope();
  if (!isRequestContext(store)) return {};
  return { request_id: store.request_id, org: store.request.org?.slug, ...callerLogFields(store.request.principal) };
}

/** Who called, for a log line: a person's user id, or a service key's service name and key id. */
export function callerLogFields(principal: Principal | undefined): Record<string, string | undefined> {
  if (principal?.kind === 'service') return { service: principal.serviceName, api_key_id: principal.apiKeyId };
  return { user_id: principal?.userId };
}
