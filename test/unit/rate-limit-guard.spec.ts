import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { RateLimitError } from '@credits/errors';
import { RateBudget, RateLimitGuard } from '@credits/traffic';
import { MemoryThrottlerStorage } from '@credits/traffic/rate-limit/memory-throttler-storage';

class Route {
  @RateBudget('read')
  handler(this: void): void {}
}

/** A request to `Route.handler` from one API key; the reply records the headers set on it. */
function call(guard: RateLimitGuard): { result: boolean | Promise<boolean>; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  const reply = { headers: (set: Record<string, string>) => Object.assign(headers, set) };
  const request = { principal: { apiKeyId: 'key-1', callerId: 'user-1' }, ip: '10.0.0.1' };
  const context = {
    getHandler: () => Route.prototype.handler,
    getClass: () => Route,
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
  } as unknown as ExecutionContext;
  return { result: guard.canActivate(context), headers };
}

const guardOver = (storage: ThrottlerStorage, limit = 2) =>
  new RateLimitGuard({ throttlers: [{ name: 'read', limit, ttl: 60_000 }] }, storage, new Reflector());

describe('RateLimitGuard', () => {
  it('counts in this process without a promise, with its headers, and refuses past the limit', () => {
    const storage = new MemoryThrottlerStorage();
    const guard = guardOver(storage);
    const first = call(guard);
    expect(first.result).toBe(true);
    expect(first.headers).toEqual({ 'RateLimit-Limit': '2', 'RateLimit-Remaining': '1', 'RateLimit-Reset': '60' });
    expect(call(guard).result).toBe(true);
    expect(() => call(guard)).toThrow(RateLimitError);
    storage.onApplicationShutdown();
  });

  it('serves the request uncounted when the counters cannot be reached (rejected)', async () => {
    const storage = { increment: () => Promise.reject(new Error('redis down')) } as unknown as ThrottlerStorage;
    const { result, headers } = call(guardOver(storage));
    await expect(result).resolves.toBe(true);
    expect(headers).toEqual({});
  });

  it('serves the request uncounted when the storage fails before it answers (thrown)', () => {
    const storage = {
      increment: () => {
        throw new Error('redis client closed');
      },
    } as unknown as ThrottlerStorage;
    expect(call(guardOver(storage)).result).toBe(true);
  });
});
