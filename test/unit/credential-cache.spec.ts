import { CredentialCache, parseCredentialMessage } from '@credits/auth';

let now = Date.parse('2026-01-01T00:00:00Z');
const clock = () => now;

function listeningCache(options = { maxAgeMs: 30_000, maxEntries: 100 }): CredentialCache {
  const cache = new CredentialCache({ ...options, clock });
  cache.setListening(true);
  return cache;
}

function store(cache: CredentialCache, id: string, tags = {}, value: unknown = { id }): void {
  cache.set(cache.ticket(), id, value, tags);
}

describe('CredentialCache', () => {
  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = listeningCache({ maxAgeMs: 30_000, maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) store(cache, id);
    cache.get('a');
    store(cache, 'd');
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].map((id) => cache.get(id)?.value)).toEqual([{ id: 'a' }, { id: 'c' }, { id: 'd' }]);
  });

  it('forgets an entry after maxAgeMs, however often it is read', () => {
    const cache = listeningCache({ maxAgeMs: 30_000, maxEntries: 10 });
    store(cache, 'a');
    now += 20_000;
    expect(cache.get('a')).toBeDefined();
    now += 10_001;
    expect(cache.get('a')).toBeUndefined();
  });

  it('forgets a credential at its expiry to the millisecond, before the maximum age', () => {
    const cache = listeningCache();
    store(cache, 'a', { expiresAt: new Date(now + 100) });
    now += 99;
    expect(cache.get('a')).toBeDefined();
    now += 1;
    expect(cache.get('a')).toBeUndefined();
  });

  it('serves and stores nothing unless its listener listens, and forgets everything when it stops', () => {
    const cache = new CredentialCache({ maxAgeMs: 30_000, maxEntries: 10, clock });
    store(cache, 'a');
    expect(cache.get('a')).toBeUndefined();
    cache.setListening(true);
    store(cache, 'a');
    expect(cache.get('a')).toBeDefined();
    cache.setListening(false);
    expect(cache.serving).toBe(false);
    cache.setListening(true);
    expect(cache.get('a')).toBeUndefined();
  });

  it('does not store a read that a change overtook', () => {
    const cache = listeningCache();
    const ticket = cache.ticket();
    cache.invalidate({ key: 'unrelated' });
    cache.set(ticket, 'a', 'stale', {});
    expect(cache.get('a')).toBeUndefined();
  });

  it('drops what a change names: the key, every answer about the user, or about the org', () => {
    const cache = listeningCache();
    store(cache, 'key1', { keyId: 'k1', userId: 'u1' });
    store(cache, 'key1:acme', { keyId: 'k1', userId: 'u1', orgId: 'o1' });
    store(cache, 'key2:acme', { keyId: 'k2', userId: 'u2', orgId: 'o1' });
    store(cache, 'key3', { keyId: 'k3', userId: 'u3' });
    cache.invalidate({ key: 'k1' });
    expect(['key1', 'key1:acme', 'key2:acme', 'key3'].map((id) => cache.get(id) !== undefined)).toEqual([
      false,
      false,
      true,
      true,
    ]);
    cache.invalidate({ org: 'o1' });
    expect(cache.get('key2:acme')).toBeUndefined();
    cache.invalidate({ user: 'u3' });
    expect(cache.size).toBe(0);
  });

  it('hands out frozen answers: a request cannot change what the next one is served', () => {
    const cache = listeningCache();
    store(cache, 'a', {}, { principal: { userId: 'u1' }, org: { role: 'member' } });
    const hit = cache.get<{ org: { role: string } }>('a')!;
    expect(() => {
      hit.value.org.role = 'owner';
    }).toThrow(TypeError);
  });

  it('is off with a maximum age of 0', () => {
    const cache = listeningCache({ maxAgeMs: 0, maxEntries: 10 });
    store(cache, 'a');
    expect(cache.serving).toBe(false);
    expect(cache.get('a')).toBeUndefined();
  });
});

describe('parseCredentialMessage', () => {
  it('reads what announceCredentialChange and sendCredentialProbe send, and nothing else', () => {
    expect(parseCredentialMessage('{"key":"k1"}')).toEqual({ change: { key: 'k1' } });
    expect(parseCredentialMessage('{"user":"u1","org":"o1"}')).toEqual({ change: { user: 'u1', org: 'o1' } });
    expect(parseCredentialMessage('{"slug":"newco"}')).toEqual({ change: { slug: 'newco' } });
    expect(parseCredentialMessage('{"probe":"p1"}')).toEqual({ probe: 'p1' });
    for (const junk of ['', 'k1', '[]', '{}', '{"key":1}', '{"probe":1}', 'null'])
      expect(parseCredentialMessage(junk)).toBeUndefined();
  });
});
