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
 * - From SIGTERM on (`ShutdownState`), every answer says `Connection: close` and its connection
 *   ends after it. Decided when the answer is sent: Fastify says it only to requests that
 *   arrive once it is closing, so a request already in flight would leave its connection open.
 * - Node's `server.close()` closes the kept-alive connections that are idle, but not one that
 *   has sent nothing yet (balancers and proxies open them ahead of need): Node waits for its
 *   headers (`headersTimeout`, a minute). Those are closed here.
 */
export function drainOnShutdown(app: NestFastifyApplication): HttpDrain {
  const state = app.get(ShutdownState);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onSend', (_request, reply, payload, done) => {
      if (state.shuttingDown) void reply.header('connection', 'close');
      done(null, payload);
    });

  const server = app.getHttpServer();
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });

  return {
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
      }),
  };
}
