import { existsSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { Browser, chromium, Page } from 'playwright-core';
import { rows } from '@credits/database';
import { startStack, Stack } from '../support/stack';
import { bearer } from '../support/auth';
import { enable, entries, newOrg, refills, settings, spend, until } from '../e2e/auto-refill/helpers';

/**
 * Auto-refill as a customer meets it (DESIGN §1.2): a purchase in a real browser (Debian's
 * chromium, driven by playwright-core) keeps the card chosen on the hosted pay page; with
 * auto-refill on, real debits below the threshold charge that card once, and the refill's
 * receipt opens in the browser; the monthly limit then stops the next refill.
 *
 * Outcomes that arrive asynchronously (the webhook, the saved card, the refill's charge and
 * receipt) are polled in the database: polling the API would spend the caller's read budget.
 * CHROMIUM_PATH overrides /usr/bin/chromium (see test/browser/ensure-chromium.sh).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM))
  throw new Error(`chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`);

const SLUG = 'refiller';
const CREDITS = 1000; // one bundle (CREDITS_PER_BUNDLE's default)
const PRICE = '$10.00'; // one bundle (BUNDLE_UNIT_AMOUNT's default, in cents)
const THRESHOLD = 500;

/** The merchant's page Checkout sends the customer back to. */
function startShop(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/billing/success') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html lang="en"><title>Thank you</title><h1>Thank you</h1></html>');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

describe('auto-refill in a browser', () => {
  let s: Stack;
  let shop: { server: Server; url: string };
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    [s, shop] = await Promise.all([startStack(), startShop()]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.setDefaultTimeout(15_000);
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => shop?.server.close(resolve));
    await s?.close();
  });

  /** Jobs of the refill charge not yet finished (pg-boss's table; the archive holds only finished ones). */
  const refillJobsPending = async () => {
    const [row] = await rows<{ n: number }>(
      s.db,
      sql`select count(*)::int as n from pgboss.job
          where name = 'auto-refill-charge' and state in ('created', 'retry', 'active')`,
    );
    return Number(row.n);
  };

  it('a card saved on the pay page is charged once below the threshold; the monthly limit stops the next refill', async () => {
    const { key, orgId } = await newOrg(s, SLUG);
    const api = (method: string, path: string, body?: unknown) =>
      s.request(method, `/api/v1/org/${SLUG}${path}`, { headers: bearer(key), body });

    // 1. Buy one bundle, asking to keep the card, and pay with the visa test card in the browser.
    const checkout = await api('POST', '/credits/checkout', {
      success_url: `${shop.url}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${shop.url}/billing/cancel`,
      quantity: 1,
      save_payment_method: true,
    });
    expect(checkout.status).toBe(200);
    await page.goto(checkout.body.checkout_url);
    await page.getByRole('heading', { name: `Pay ${PRICE}` }).waitFor();
    await page.getByLabel('Test card').selectOption('pm_card_visa');
    await page.getByRole('button', { name: /^Pay/ }).click();
    await page.waitForURL((url) => url.pathname === '/billing/success');
    expect(new URL(page.url()).searchParams.get('session_id')).toBe(checkout.body.session_id);
    // The webhook grants the purchase and keeps the card in the same transaction (polled in the database).
    await until('the purchase granted', async () => (await entries(s, orgId, 'purchase')).length === 1);
    expect(await entries(s, orgId, 'purchase')).toEqual([expect.objectContaining({ amount: CREDITS })]);
    await until('the card saved', async () => {
      const [row] = await rows<{ saved: boolean }>(
        s.db,
        sql`select payment_method_id is not null as saved from auto_refill_settings where org_id = ${orgId}::uuid`,
      );
      return row?.saved === true;
    });

    // 2. Turn auto-refill on: one bundle per refill, at most one a month; the card shows.
    await enable(s, key, SLUG, { threshold: THRESHOLD, quantity: 1, monthly_limit: 1 });
    expect(await settings(s, key, SLUG)).toMatchObject({
      enabled: true,
      threshold: THRESHOLD,
      quantity: 1,
      monthly_limit: 1,
      payment_method: { brand: 'visa', last4: '4242' },
      refills_this_month: 0,
      last_failure: null,
    });

    // 3. Real debits as the host backend makes them: 1000 → 700 (above) → 400 (below).
    await spend(s, orgId, 300);
    expect(await refills(s, orgId)).toEqual([]);
    await spend(s, orgId, 300);
    await until('the refill granted with its receipt', async () => {
      const granted = await entries(s, orgId, 'auto_refill');
      return granted.length === 1 && granted[0].receipt_url !== null;
    });
    const [refill] = await entries(s, orgId, 'auto_refill');
    expect(refill.amount).toBe(CREDITS);
    const receipt = await page.goto(refill.receipt_url!);
    expect(receipt?.status()).toBe(200);
    await expect(page.locator('#amount').innerText()).resolves.toBe(PRICE);
    await expect(page.locator('#status').innerText()).resolves.toBe('succeeded');

    // 4. Below the threshold again (1400 → 400), but this month's one refill is spent. The
    // trigger runs in the debit's transaction, so once the debit answered 200 (committed) its
    // decision is in the database; a refill it started would be a queued charge job, and the
    // queue going idle means any such job has run. 5 s: a charge against the local emulator
    // takes well under a second, and a job left retrying (10 s delay) fails the wait, as it should.
    await spend(s, orgId, 1000);
    expect(await entries(s, orgId, 'usage')).toHaveLength(3);
    await until('no refill charge queued', async () => (await refillJobsPending()) === 0, 5_000);
    expect(await refills(s, orgId)).toHaveLength(1);
    expect(await entries(s, orgId, 'auto_refill')).toHaveLength(1);
    expect(await settings(s, key, SLUG)).toMatchObject({ enabled: true, refills_this_month: 1, last_failure: null });
    expect((await api('GET', '/credits')).body).toMatchObject({
      balance: CREDITS - 600 + CREDITS - 1000,
      auto_refill_enabled: true,
    });
  });
});
