/**
 * Closing the HTTP server (what SIGTERM does once its delay is over, and every test app's
 * `close()`): a request in flight is answered and its connection ends with it, so the close
 * finishes with the last answer instead of waiting out the keep-alive timeout (72 s) on a
 * connection left open and idle.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { bearer } from '../support/auth';
import { startStack } from '../support/stack';
import { until } from '../support/until';

describe('closing the HTTP server', () => {
  it('answers a request in flight with Connection: close, then finishes closing', async () => {
    const s = await startStack();
    const agent = new Agent({ keepAlive: true });
    try {
      const auth = bearer(await s.member('acme', 'admin@acme.test', 'admin'));
      const body = { success_url: 'http://localhost/ok', cancel_url: 'http://localhost/no' };
      // The org's Stripe customer first, so the purchase below is one session call, held 300 ms
      // (under the stack's 1 s Stripe timeout).
      expect((await s.request('POST', '/api/v1/org/acme/credits/checkout', { headers: auth, body })).status).toBe(200);
      await s.control('DELETE', '/requests');
      await s.control('POST', '/faults', { path: '/v1/checkout/sessions', method: 'POST', delay_ms: 300 });

      const answer = new Promise<{ status?: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
        const req = httpRequest(
          `${s.url}/api/v1/org/acme/credits/checkout`,
          { method: 'POST', agent, headers: { ...auth, 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
      await until('the purchase in flight', async () => (await s.stripeRequests('/v1/checkout/sessions')).length > 0);

      const closed = s.close();
      expect(await answer).toMatchObject({ status: 200, headers: { connection: 'close' } });
      await closed;
    } finally {
      agent.destroy();
    }
  });
});
