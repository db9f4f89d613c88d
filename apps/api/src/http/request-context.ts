import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the request being served; every log line carries it. */
export interface RequestContext {
  request_id: string;
  org?: string;
  user_id?: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** Adds facts learnt while serving (org slug, user id) to the current request's context. */
export function annotateRequest(facts: Partial<Omit<RequestContext, 'request_id'>>): void {
  const store = requestContext.getStore();
  if (store) Object.assign(store, facts);
}
