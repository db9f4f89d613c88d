import Stripe from 'stripe';
import {
  assertBindable,
  isLoopbackHost,
  parseForm,
  signPayload,
  startStripeEmulator,
} from '../../apps/stripe-emulator/src';
import { IdempotencyStore } from '../../apps/stripe-emulator/src/http/idempotency-keys';
import { RequestLog, maskAuthorization } from '../../apps/stripe-emulator/src/http/request-log';
import { BoundedMap } from '../../apps/stripe-emulator/src/store';
import { formatAmount } from '../../apps/stripe-emulator/src/stripe-api/currencies';
import { canonical, FormError } from '../../apps/stripe-emulator/src/stripe-api/form-encoding';
import { maskKey } from '../../apps/stripe-emulator/src/stripe-api/stripe-errors';

describe('form encoding', () => {
  it('parses Stripe nested keys into objects and arrays', () => {
    const body =
      'mode=payment&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1000' +
      '&line_items[0][price_data][product_data][name]=Credits+%26+more&line_items[0][quantity]=3' +
      '&metadata[org_id]=org_1&metadata[0]=zero&expand[0]=line_items&expand[1]=customer&payment_method_types[]=card';
    expect(parseForm(body)).toEqual({
      mode: 'payment',
      line_items: [
        {
          price_data: { currency: 'usd', unit_amount: '1000', product_data: { name: 'Credits & more' } },
          quantity: '3',
        },
      ],
      metadata: { org_id: 'org_1', 0: 'zero' },
      expand: ['line_items', 'customer'],
      payment_method_types: ['card'],
    });
    expect(Array.isArray(parseForm('metadata[0]=a').metadata)).toBe(false);
  });

  it('accepts percent-encoded brackets and RFC 3986 escapes', () => {
    const encoded =
      'line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=a%20b%2Fc%21&metadata%5Bk.x%5D=%C3%A9+%C3%BC&expand%5B0%5D=line_items';
    expect(parseForm(encoded)).toEqual({
      line_items: [{ price_data: { product_data: { name: 'a b/c!' } } }],
      metadata: { 'k.x': 'é ü' },
      expand: ['line_items'],
    });
  });

  it('refuses prototype keys, huge indexes and bad encodings', () => {
    expect(() => parseForm('__proto__[x]=1')).toThrow(FormError);
    expect(() => parseForm('a[constructor][prototype]=1')).toThrow(FormError);
    expect(() => parseForm('a[100000]=1')).toThrow(FormError);
    expect(() => parseForm('a=%E0%A4%A')).toThrow(FormError);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('compares parameters independently of their order', () => {
    expect(canonical(parseForm('a=1&b[c]=2'))).toBe(canonical(parseForm('b[c]=2&a=1')));
    expect(canonical(parseForm('a=1'))).not.toBe(canonical(parseForm('a=2')));
  });
});

describe('idempotency store', () => {
  it('expires keys after the TTL and evicts the oldest beyond its cap', () => {
    let now = 0;
    const store = new IdempotencyStore(2, 1000, () => now);
    expect(store.begin('sk', 'k', 'fp').kind).toBe('new');
    expect(store.begin('sk', 'k', 'fp').kind).toBe('in_progress');
    store.complete('sk', 'k', { status: 200, body: '{}' });
    expect(store.begin('sk', 'k', 'fp')).toEqual({ kind: 'replay', response: { status: 200, body: '{}' } });
    expect(store.begin('sk', 'k', 'other').kind).toBe('mismatch');
    now = 1001;
    expect(store.begin('sk', 'k', 'other').kind).toBe('new');
    store.release('sk', 'k');
    expect(store.size).toBe(0);
    for (const k of ['a', 'b', 'c']) {
      store.begin('sk', k, 'fp');
      store.complete('sk', k, { status: 200, body: k });
    }
    expect(store.size).toBe(2);
    expect(store.begin('sk', 'a', 'fp').kind).toBe('new');
  });
});

describe('bounded memory', () => {
  it('caps maps and the request log FIFO', () => {
    const map = new BoundedMap<number>(3);
    for (let i = 0; i < 10; i++) map.set(`k${i}`, i);
    expect([...map.keys()]).toEqual(['k7', 'k8', 'k9']);
    const log = new RequestLog(100);
    for (let i = 0; i < 1000; i++)
      log.add({ method: 'GET', path: `/v1/${i}`, query: '', headers: {}, body: {}, at: '', status: 200 });
    const entries = log.list();
    expect(entries).toHaveLength(100);
    expect(entries[0].path).toBe('/v1/900');
  });

  it('caps stored objects per type', async () => {
    const emulator = await startStripeEmulator({ port: 0, limits: { maxObjects: 5 } });
    try {
      const stripe = new Stripe('sk_test_1', { host: '127.0.0.1', port: emulator.port, protocol: 'http' });
      for (let i = 0; i < 8; i++) await stripe.customers.create({ name: `c${i}` });
      expect((await stripe.customers.list({ limit: 100 })).data.map((c) => c.name)).toEqual([
        'c7',
        'c6',
        'c5',
        'c4',
        'c3',
      ]);
    } finally {
      await emulator.close();
    }
  });
});

describe('helpers', () => {
  it('signs like Stripe', () => {
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'x' });
    const header = signPayload(payload, 'whsec_x');
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(new Stripe('sk_test_x').webhooks.constructEvent(payload, header, 'whsec_x').id).toBe('evt_1');
  });

  it('masks keys', () => {
    const key = 'sk_test_51Habcdefghijklmnopqrstuvwxyz';
    expect(maskKey(key)).not.toContain(key.slice(8));
    expect(maskKey(key).startsWith('sk_test_')).toBe(true);
    expect(maskKey('abc')).not.toContain('abc');
    expect(maskAuthorization(`Bearer ${key}`)).toBe('Bearer sk_test_****');
  });

  it('formats amounts with the currency exponent', () => {
    expect(formatAmount(3000, 'usd')).toBe('$30.00');
    expect(formatAmount(500, 'jpy')).toBe('¥500');
    expect(formatAmount(1234, 'kwd')).toMatch(/1\.234/);
  });

  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1'])
      expect(isLoopbackHost(host)).toBe(false);
    expect(() => assertBindable('0.0.0.0', false)).toThrow(/non-loopback/);
    expect(() => assertBindable('0.0.0.0', true)).not.toThrow();
  });

  it('startStripeEmulator refuses a non-loopback host unless allowRemote', async () => {
    await expect(startStripeEmulator({ host: '0.0.0.0', port: 0 })).rejects.toThrow(/Refusing to bind/);
    const emulator = await startStripeEmulator({ host: '0.0.0.0', port: 0, allowRemote: true });
    expect(emulator.url).toBe(`http://127.0.0.1:${emulator.port}`);
    await emulator.close();
  });
});
