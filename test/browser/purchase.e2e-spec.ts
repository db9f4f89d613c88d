import { existsSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { startStack, Stack } from '../support/stack';
import { bearer } from '../support/auth';
import { until } from '../support/until';

/**
 * The whole purchase in a real browser (Debian's chromium, driven by playwright-core; no
 * browser is ever downloaded): create a session through the API, open checkout_url, click
 * Pay, land on success_url with the session id, see the credits in the balance and the
 * ledger; Cancel lands on cancel_url with no credits; Swagger UI lists the operations.
 *
 * CHROMIUM_PATH overrides /usr/bin/chromium (`npm test` installs Debian's package first when
 * it is missing: test/browser/ensure-chromium.sh). SCREENSHOT_DIR keeps the pay page's
 * screenshot (default: the OS temp directory; never committed).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available)
  throw new Error(`chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);

/** The merchant's own pages, where Checkout sends the customer back. */
function startShop(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    const page = (title: string, body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><title>${title}</title><h1>${title}</h1>${body}</html>`);
    };
    if (url.pathname === '/billing/success') {
      page('Thank you', `<p id="session">${escape(url.searchParams.get('session_id') ?? '')}</p>`);
    } else if (url.pathname === '/billing/cancel') {
      page('Purchase cancelled', '<p>No payment was taken.</p>');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('purchase in a browser', () => {
  let s: Stack;
  let key: string;
  let shop: { server: Server; url: string };
  let browser: Browser;
  let page: Page;

  const api = (method: string, path: string, body?: unknown) => s.request(method, path, { headers: bearer(key), body });
  const balance = async () => (await api('GET', '/api/v1/org/acme/credits')).body;
  const checkout = async (quantity: number) => {
    const res = await api('POST', '/api/v1/org/acme/credits/checkout', {
      success_url: `${shop.url}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${shop.url}/billing/cancel`,
      quantity,
    });
    expect(res.status).toBe(200);
    return res.body as { checkout_url: string; session_id: string; credits: number };
  };

  beforeAll(async () => {
    [s, shop] = await Promise.all([startStack(), startShop()]);
    key = await s.member('acme', 'admin@acme.test', 'admin');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.setDefaultTimeout(15_000);
  });
  afterEach(() => page?.close());
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => shop?.server.close(resolve));
    await s?.close();
  });

  it('Pay: lands on success_url with the session id, and the credits are in the balance and the ledger', async () => {
    expect(await balance()).toEqual({
      balance: 0,
      available_balance: 0,
      held: 0,
      expiring: null,
      is_low_balance: true,
      auto_refill_enabled: false,
    });
    const session = await checkout(2);

    await page.goto(session.checkout_url);
    await page.getByRole('heading', { name: /Pay/ }).waitFor();
    const text = await page.locator('body').innerText();
    expect(text).toContain('2000'); // credits
    expect(text).toContain('$20.00'); // the total
    await page.screenshot({
      path: join(process.env.SCREENSHOT_DIR ?? tmpdir(), 'credits-api-pay-page.png'),
      fullPage: true,
    });

    await page.getByRole('button', { name: /^Pay/ }).click();
    await page.waitForURL((url) => url.pathname === '/billing/success');
    const landed = new URL(page.url());
    expect(landed.origin).toBe(shop.url);
    expect(landed.searchParams.get('session_id')).toBe(session.session_id);
    await expect(page.locator('#session').innerText()).resolves.toBe(session.session_id);

    // The webhook is delivered asynchronously, as Stripe does: wait for it.
    const credited = await until('the balance to rise', async () => {
      const body = await balance();
      return body.balance > 0 ? body : undefined;
    });
    expect(credited).toEqual({
      balance: 2000,
      available_balance: 2000,
      held: 0,
      expiring: null,
      is_low_balance: false,
      auto_refill_enabled: false,
    });
    const ledger = await api('GET', '/api/v1/org/acme/credits/transactions');
    expect(ledger.body.data).toEqual([
      expect.objectContaining({
        amount: 2000,
        balance_after: 2000,
        transaction_type: 'purchase',
        checkout_session_id: session.session_id,
      }),
    ]);
  });

  it('Cancel: lands on cancel_url and no credits are added', async () => {
    const before = (await balance()).balance;
    const session = await checkout(1);

    await page.goto(session.checkout_url);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL((url) => url.pathname === '/billing/cancel');
    expect(new URL(page.url()).origin).toBe(shop.url);
    await page.getByRole('heading', { name: 'Purchase cancelled' }).waitFor();

    const state = (await s.control('GET', `/sessions/${session.session_id}`)) as { session: { status: string } };
    expect(state.session.status).toBe('open');
    const events = (await s.control('GET', '/events')) as { event: { data: { object: { id: string } } } }[];
    expect(events.filter((e) => e.event.data.object.id === session.session_id)).toEqual([]);
    expect((await balance()).balance).toBe(before);
    const ledger = await api('GET', '/api/v1/org/acme/credits/transactions');
    expect(ledger.body.data.filter((e: any) => e.checkout_session_id === session.session_id)).toEqual([]);
  });

  it('Swagger UI at /docs lists the checkout, balance and ledger operations', async () => {
    await page.goto(`${s.url}/docs`);
    for (const summary of ['Create checkout session', 'Get credit balance', 'List credit transactions']) {
      const operation = page.locator('.opblock-summary', { hasText: summary });
      await operation.first().waitFor();
    }
    const paths = await page.locator('.opblock-summary-path').allInnerTexts();
    const normalized = paths.map((p) => p.replace(/\u200b/g, '').trim());
    expect(normalized).toEqual(
      expect.arrayContaining([
        '/api/v1/org/{org}/credits/checkout',
        '/api/v1/org/{org}/credits',
        '/api/v1/org/{org}/credits/transactions',
      ]),
    );
  });
});
