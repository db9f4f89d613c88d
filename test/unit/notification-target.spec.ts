import { isPublicAddress, TargetPolicy, TargetRefused } from '@credits/billing';

describe('Notification targets', () => {
  const production = new TargetPolicy(true);
  const development = new TargetPolicy(false);

  it.each([
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '172.31.255.254',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '100.64.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '64:ff9b::a00:1',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111'])(
    '%s is public',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

  it.each([
    ['http://hooks.example.com/credits', /https/],
    ['https://127.0.0.1/hook', /not a public address/],
    ['https://10.1.2.3/hook', /not a public address/],
    ['https://172.20.0.5/hook', /not a public address/],
    ['https://192.168.0.10/hook', /not a public address/],
    ['https://169.254.169.254/latest/meta-data', /not a public address/],
    ['https://[::1]/hook', /not a public address/],
    ['https://[fd00::1]/hook', /not a public address/],
    ['https://[::ffff:127.0.0.1]/hook', /not a public address/],
    ['https://localhost/hook', /localhost/],
    ['https://user:pass@hooks.example.com/hook', /credentials/],
    ['ftp://hooks.example.com/hook', /https/],
    ['not a url', /absolute URL/],
  ])('production refuses %s', (url, reason) => {
    expect(() => production.check(url)).toThrow(TargetRefused);
    expect(() => production.check(url)).toThrow(reason);
  });

  it('production takes an https URL on a public host', () => {
    expect(production.check('https://hooks.example.com/credits').hostname).toBe('hooks.example.com');
  });

  it('outside production, http and loopback are allowed (tests, local development)', () => {
    expect(development.check('http://127.0.0.1:4000/hook').port).toBe('4000');
    expect(development.check('http://localhost/hook').hostname).toBe('localhost');
  });

  it('production checks every address a name resolves to, when connecting (DNS rebinding)', async () => {
    const resolve = (policy: TargetPolicy, host: string) =>
      new Promise<unknown>((done) =>
        policy.lookup(host, { all: true }, (error, addresses) => done(error ?? addresses)),
      );
    // `localhost` resolves to loopback on every machine: a public name could do the same.
    expect(await resolve(production, 'localhost')).toBeInstanceOf(TargetRefused);
    expect(await resolve(development, 'localhost')).toEqual(
      expect.arrayContaining([expect.objectContaining({ address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/) })]),
    );
  });
});
