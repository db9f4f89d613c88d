import type { FastifyRequest } from 'fastify';

type Listener = (request: FastifyRequest) => void;
const listeners: Listener[] = [];

/**
 * Lets the host app learn who a request is for (to put the user and org in its log
 * lines) without the auth library depending on the app's logging.
 */
export function addAuthListener(listener: Listener): void {
  listeners.push(listener);
}

export function onAuthenticated(request: FastifyRequest): void {
  for (const listener of listeners) listener(request);
}
