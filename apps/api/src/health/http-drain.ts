import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ShutdownState } from './shutdown-state';

export interface HttpDrain {
  /**
   * Stops accepting connections and resolves once every connection has ended: the idle ones
   * at once, the others as soon as their request in flight is answered.
   */
  close(): Promise<void>;
}

/**
 * Lets the process exit as soon as its requests in flight are answered, behind a load
 * balancer that keeps its connections open. Call before `listen`.
 *
 * - Once draining (SIGTERM, `ShutdownState`, or `close()` called), every answer says
 *   `Connection: close` and its connection ends after it. Decided when the answer is sent:
 *   Fastify says it only to requests that arrive once it is closing, so a request already in
 *   flight would leave its connection open, idle, until the keep-alive timeout (72 s).
 * - Node's `server.close()` closes the kept-alive connections that are idle, but not one that
 *   has sent nothing yet (balancers and proxies open them ahead of need) nor one that has sent
 *   part of a request's head: Node waits for the rest (`headersTimeout`, a minute, checked
 *   every 30 s). Every connection not serving a request is closed here.
 */
export function drainOnShutdown(app: NestFastifyApplication): HttpDrain {
  const state = app.get(ShutdownState);
  let draining = false;
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', (_request, reply, payload, done) => {
      if (draining || state.shuttingDown) void reply.header('connection', 'close');
      done(null, payload);
    });

  const server = app.getHttpServer();
  const connections = new Set<Socket>();
  /** The connections with a request whose answer is not finished. */
  const serving = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => {
      connections.delete(socket);
      serving.delete(socket);
    });
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    serving.add(request.socket);
    response.once('close', () => serving.delete(request.socket));
  });

  return {
    close: () =>
      new Promise<void>((resolve, reject) => {
        draining = true;
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of connections) if (!serving.has(socket)) socket.destroy();
      }),
  };
}
