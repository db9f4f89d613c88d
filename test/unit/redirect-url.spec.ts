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

  it('refuses whitespace, control characters and backslashes the URL parser would drop or reinterpret', () => {
    for (const url of [
      'https://app.exa\tmple.com/x',
      'https://app.example.com/a\nb',
      'https://app.example.com/a\rb',
      ' https://app.example.com/x',
      'https://app.example.com/x\u0000',
      'https://app.example.com/\u001fx',
      'https://app.example.com/\u007fx',
      'https://app.example.com/\u0085x',
      'https://app.example.com/a b',
      'https://app.example.com/\u2028x',
      'https://app.example.com\\@evil.net/',
    ]) {
      expect(policy.parse(url)).toBeUndefined();
    }
    expect(policy.parse('https://app.example.com/a%20b?q=%0A')).toBeDefined();
  });

  it('requires https when told to', () => {
    const strict = new RedirectUrlPolicy(['app.example.com'], true);
    expect(strict.schemeAllowed(strict.parse('http://app.example.com')!)).toBe(false);
    expect(strict.schemeAllowed(strict.parse('https://app.example.com')!)).toBe(true);
    expect(policy.schemeAllowed(policy.parse('ftp://app.example.com')!)).toBe(false);
  });
});
