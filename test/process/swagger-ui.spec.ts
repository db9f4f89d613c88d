import { chromium, Browser } from 'playwright-core';
import { startTestApp, TestApp } from '../support/test-app';

/** The security headers' CSP must still let Swagger UI run: checked in a real browser. */
describe('Swagger UI under the Content-Security-Policy', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    t = await startTestApp();
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('renders /docs and the operations with no CSP violation', async () => {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on('pageerror', (error) => violations.push(error.message));
    const response = await page.goto(`${t.url}/docs`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 20000 });
    expect(await page.textContent('.swagger-ui .info .title')).toContain('credits-api');
    await page.waitForSelector('#operations-credits-create_checkout_session');
    // "Try it out" needs the header parameter rendered and the document fetched from this origin.
    await page.click('#operations-credits-create_checkout_session .opblock-summary');
    await page.waitForSelector('#operations-credits-create_checkout_session tr[data-param-name="X-Client-Version"]');
    expect(violations).toEqual([]);
  });
});
