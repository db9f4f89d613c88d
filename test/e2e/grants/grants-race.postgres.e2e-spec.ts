/**
 * Grant expiry and void racing from two API instances on one PostgreSQL database, in the
 * PostgreSQL pass of `npm test` (`test:pglite` skips this file): each instance's expiry
 * sweep, debits and holds from both, and the same void from both. The balance row's lock
 * orders them; `expiration:<grant>` and `void:<grant>` are unique, so each is written once.
 */
import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { AdminAdjustments, GrantExpirySchedule } from '@credits/billing';
import { creditLedger } from '@credits/database';
import { bearer } from '../../support/auth';
import { type Instance, racingInstances } from '../../support/instance';
import { expectLedgerConsistent } from '../fulfilment/helpers';
import { credits, debit, orgId, spender } from '../usage/kit';

if (!process.env.TEST_DATABASE_URL?.trim()) {
  throw new Error('TEST_DATABASE_URL must name a PostgreSQL server (npm run test:postgres sets it)');
}

describe('grant expiry and void racing from two instances (PostgreSQL)', () => {
  const started = racingInstances();

  it('each expiry and void is written once, whatever the number of sweepers and writers', async () => {
    const instances = started();
    const [a, b] = instances;
    for (let round = 0; round < 5; round++) {
      const slug = `grant-race-${round}`;
      const apiKey = await spender(a.db, slug);
      const id = await orgId(a.db, slug);
      const adjust = (i: Instance) => i.app.get(AdminAdjustments);
      // Three promotions that expire (moved into the past below), a paid grant, one to void.
      const expiring = [];
      for (const amount of [300, 200, 100]) {
        const made = await adjust(a).adjust(id, amount, 'promo', undefined, {
          category: 'promotional',
          expiry: { afterSeconds: 3600 },
        });
        expiring.push(made.grantId!);
      }
      await adjust(a).adjust(id, 2000, 'paid');
      const { grantId: mistaken } = await adjust(b).adjust(id, 500, 'mistake');
      // Holds on the promotions first, so part of each outlives its expiry.
      const holds = await Promise.all(
        [0, 1].map((i) =>
          instances[i].request('POST', `/api/v1/org/${slug}/credits/holds`, {
            headers: bearer(apiKey, { 'idempotency-key': randomUUID() }),
            body: { amount: 150, expires_in: 3600 },
          }),
        ),
      );
      expect(holds.map((h) => h.status)).toEqual([201, 201]);
      // The promotions' expiry passes.
      await a.db.execute(sql`
        update credit_grants set expires_at = now() - interval '1 second', effective_at = effective_at - interval '2 hours'
        where org_id = ${id}::uuid and category = 'promotional'`);
      await a.db.execute(
        sql`update credit_balances set next_expiry_at = now() - interval '1 second' where org_id = ${id}::uuid`,
      );

      const work: Array<Promise<unknown>> = [];
      for (let i = 0; i < 4; i++) {
        for (const instance of instances) {
          work.push(instance.app.get(GrantExpirySchedule).run());
          work.push(debit(instance, apiKey, slug, { amount: 25 }));
          work.push(adjust(instance).void(mistaken!, 'wrong org'));
        }
      }
      for (const [i, hold] of holds.entries()) {
        const path = `/api/v1/org/${slug}/credits/holds/${hold.body.id}/${i === 0 ? 'release' : 'capture'}`;
        work.push(
          instances[i].request('POST', path, { headers: bearer(apiKey), body: i === 0 ? undefined : { amount: 50 } }),
        );
      }
      await Promise.all(work);
      // One more sweep after everything ended: nothing left to write.
      await b.app.get(GrantExpirySchedule).run();

      const entries = await a.db.select().from(creditLedger).where(eq(creditLedger.orgId, id));
      const refs = entries.map((e) => e.sourceRef);
      // The holds drew all of the first promotion (the soonest to expire): it had nothing unheld
      // to expire, and what each hold gave back was written off once; the others expired whole.
      const [first, ...rest] = expiring;
      expect(refs.filter((r) => r.startsWith(`expiration:${first}`)).sort()).toEqual(
        holds.map((h) => `expiration:${first}:${h.body.id}`).sort(),
      );
      for (const grant of rest) expect(refs.filter((r) => r === `expiration:${grant}`)).toHaveLength(1);
      expect(new Set(refs).size).toBe(refs.length);
      expect(refs.filter((r) => r === `void:${mistaken}`)).toHaveLength(1);
      // Every promotional credit left the balance: spent by the capture, or expired.
      const promotional = entries
        .filter((e) => e.transactionType === 'expiration' || e.sourceRef === `hold:${holds[1].body.id}`)
        .reduce((sum, e) => sum - e.amount, 0);
      const usage = entries
        .filter((e) => e.transactionType === 'usage' && !e.sourceRef.startsWith('hold:'))
        .reduce((sum, e) => sum - e.amount, 0);
      expect(promotional).toBe(600);
      expect(usage).toBe(8 * 25);
      const after = await credits(a, apiKey, slug);
      expect(after.body).toMatchObject({ balance: 2000 - usage, available_balance: 2000 - usage, held: 0 });
      await expectLedgerConsistent(a.db);
    }
  });
});
