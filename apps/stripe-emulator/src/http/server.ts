import * as http from 'node:http';
import { handleControl } from '../controls/controls';
import type { EmulatorState } from '../emulator-state';
import { handlePayPage } from '../hosted-pages/pay-page';
import { handleReceiptPage } from '../hosted-pages/receipt-page';
import { unknownRoute } from '../stripe-api/stripe-errors';
import { answerApi } from './api-pipeline';
import { passFaults } from './apply-faults';
import {
  errorAnswer,
  Exchange,
  readIncoming,
  unreadableBody,
  writeAnswer,
  type Answer,
  type Incoming,
} from './exchange';

/** The emulator's HTTP server over `state`; it does not listen yet. */
export function createServer(state: EmulatorState): http.Server {
  const server = http.createServer((req, res) => {
    handle(state, req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        writeAnswer(res, {
          status: 500,
          body: JSON.stringify({
            error: { type: 'api_error', message: `Internal emulator error: ${(err as Error)?.message ?? err}` },
          }),
          headers: { 'content-type': 'application/json' },
        });
      }
    });
  });
  // Longer than the SDK agent's idle sockets live, so a reused keep-alive socket is not closed under it.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/**
 * Every request: read it; the test controls under `/_emulator` answer at once. Anything else
 * is logged, passes the faults, then is answered by the Stripe API (`/v1`, its own stages in
 * `api-pipeline.ts`), the hosted pages, or Stripe's 404.
 */
async function handle(state: EmulatorState, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let incoming: Incoming;
  try {
    incoming = await readIncoming(req);
  } catch (err) {
    return writeAnswer(res, unreadableBody(err));
  }
  if (incoming.path === '/_emulator' || incoming.path.startsWith('/_emulator/')) {
    return writeAnswer(res, await answerControl(state, incoming));
  }
  const exchange = new Exchange(req, res, incoming);
  state.requests.add(exchange.entry);
  if (!(await passFaults(state, exchange))) return;
  if (exchange.path.startsWith('/v1/')) return exchange.reply(await answerApi(state, exchange));
  const page =
    handlePayPage(state.ctx, exchange.method, exchange.path, exchange.params) ??
    handleReceiptPage(state.ctx, exchange.method, exchange.path);
  if (page) return exchange.reply({ ...page, body: exchange.method === 'HEAD' ? '' : page.body });
  // Nothing here processes a request, so a drop_after_processing fault has no response to lose.
  const notFound = unknownRoute(exchange.method, exchange.path);
  exchange.reply(errorAnswer(notFound, { 'content-type': 'application/json' }), false);
}

async function answerControl(state: EmulatorState, incoming: Incoming): Promise<Answer> {
  const { method, path, query, rawBody } = incoming;
  const result = await handleControl(state, method, path, new URLSearchParams(query), rawBody);
  return {
    status: result.status,
    body: JSON.stringify(result.body),
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  };
}
