import { RedirectUrlPolicy } from '@credits/billing';

describe('RedirectUrlPolicy', () => {
  const policy = new RedirectUrlPolicy(['app.example.com', '*.example.org', 'localhost:3000'], false);
  const allowed = (url: string) => policy.hostAllowed(policy.parse(url)!);

  it('matches exact hosts case-insensitively', () => {
    expect(allowed('https://app.example.com/x')).toBe(true);
    expect(allowed('https://APP.example.com/x')).toBe(true);
    expect(allowed('https://evil-app.example.com/x')).toBe(false);
    expect(allowed('https://app.example.com.evil.net/x')).toBe(false);
  });

  it('matches a wildcard to sub-domains only', () => {
    expect(allowed('https://a.example.org')).toBe(true);
    expect(allowed('https://a.b.example.org')).toBe(true);
    expect(allowed('https://example.org')).toBe(false);
    expect(allowed('https://badexample.org')).toBe(false);
  });

  it('pins a port when the pattern has one', () => {
    expect(allowed('http://localhost:3000/ok')).toBe(true);
    expect(allowed('http://localhost:4000/ok')).toBe(false);
  });

  it('is not fooled by credentials in the URL', () => {
    expect(allowed('https://app.example.com@evil.net/')).toBe(false);
  });

  it('accepts the session-id placeholder anywhere', () => {
    expect(policy.parse('https://app.example.com/done/{CHECKOUT_SESSION_ID}?s={CHECKOUT_SESSION_ID}')).toBeDefined();
  });

  it('requires https when told to', () => {
    const strict = new RedirectUrlPolicy(['app.example.com'], true);
    expect(strict.schemeAllowed(strict.parse('http://app.example.com')!)).toBe(false);
    expect(strict.schemeAllowed(strict.parse('https://app.example.com')!)).toBe(true);
    expect(policy.schemeAllowed(policy.parse('ftp://app.example.com')!)).toBe(false);
  });
});
