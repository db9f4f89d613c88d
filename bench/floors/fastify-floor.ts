/** The floors on bare Fastify: routes that hand each request to `floor-work.ts` and nothing else. */
import Fastify, { type FastifyReply } from 'fastify';
import { type Answer, type CheckoutBody, floorWork } from './floor-work';
import { serveUntilSignalled } from './serve';

async function main(): Promise<void> {
  const work = floorWork(process.env);
  const app = Fastify({ logger: false });
  const send = (reply: FastifyReply, answer: Answer) => reply.code(answer.status).send(answer.body);
  const key = (value: string | string[] | undefined) => (typeof value === 'string' ? value : undefined);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.post('/checkout', async (request, reply) =>
    send(reply, await work.checkout(request.body as CheckoutBody, key(request.headers['idempotency-key']))),
  );
  app.post('/invalid', async (_request, reply) => send(reply, work.invalid()));
  app.get('/balance', async (_request, reply) => send(reply, await work.balance()));
  app.post('/usage/:i', async (request, reply) => {
    const { i } = request.params as { i: string };
    const { amount } = request.body as { amount: number };
    return send(reply, await work.usage(Number(i), amount, key(request.headers['idempotency-key'])));
  });
  app.post('/same/checkout', async (request, reply) =>
    send(
      reply,
      await work.sameCheckout(
        request.headers.authorization,
        request.body as CheckoutBody,
        String(request.headers['idempotency-key']),
      ),
    ),
  );
  app.post('/same/invalid', async (request, reply) =>
    send(reply, await work.sameInvalid(request.headers.authorization)),
  );
  app.get('/same/balance', async (request, reply) =>
    send(reply, await work.sameBalance(request.headers.authorization)),
  );

  await serveUntilSignalled({
    listen: (port) => app.listen({ port, host: '127.0.0.1' }),
    close: async () => {
      await app.close();
      await work.close();
    },
  });
}

void main().catch((err: unknown) => {
  process.stderr.write(`fastify-floor: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
