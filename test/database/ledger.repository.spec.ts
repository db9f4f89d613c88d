/**
 * LedgerRepository against a real database: in-memory PGlite, or PostgreSQL when
 * TEST_DATABASE_URL is set. Every org-scoped method is also checked across two orgs.
 */
import { randomUUID } from 'node:crypto';
import { LedgerRepository, NewGrant, NewLedgerEntry } from '@credits/billing';
import { type Db, organizations } from '@credits/database';
import { openTestDatabase } from '../support/database';

describe('LedgerRepository', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let db: Db;
  let ledger: LedgerRepository;

  beforeAll(async () => {
    database = await openTestDatabase();
    db = database.db;
    ledger = new LedgerRepository(db);
  });
  afterAll(() => database?.close());

  const newOrg = async (): Promise<string> => {
    const [org] = await db
      .insert(organizations)
      .values({ slug: `org-${randomUUID().slice(0, 8)}`, name: 'Org' })
      .returning();
    return org.id;
  };
  const entry = (amount: number, extra: Partial<NewLedgerEntry> = {}): NewLedgerEntry => ({
    amount,
    transactionType: amount >= 0 ? 'purchase' : 'usage',
    description: `${amount}`,
    sourceRef: `test:${randomUUID()}`,
    ...extra,
  });
  const paidGrant: NewGrant = {
    category: 'paid',
    source: 'purchase',
    priority: 50,
    effectiveAt: null,
    expiry: null,
    description: null,
    metadata: null,
  };
  const credit = (orgId: string, e: NewLedgerEntry) =>
    db.transaction((tx) => ledger.in(tx).credit(orgId, e, paidGrant));
  const debit = (orgId: string, e: NewLedgerEntry) =>
    db.transaction(async (tx) => {
      await ledger.in(tx).lockBalance(orgId);
      return ledger.in(tx).debit(orgId, e);
    });

  it('a credit adds to the balance and writes its entry, once per source', async () => {
    const org = await newOrg();
    expect(await ledger.balance(org)).toBe(0);
    const grant = entry(1000);
    const written = await credit(org, grant);
    expect(written).toEqual({ id: expect.any(String), balanceAfter: 1000 });
    expect(await credit(org, grant)).toBeUndefined();
    expect(await ledger.balance(org)).toBe(1000);
    expect(await ledger.entries(org, { limit: 10 })).toEqual([
      expect.objectContaining({ id: written!.id, amount: 1000, balanceAfter: 1000, sourceRef: grant.sourceRef }),
    ]);
  });

  it('a debit takes from the locked balance and writes its entry, once per source', async () => {
    const org = await newOrg();
    await credit(org, entry(1000));
    const spend = entry(-300);
    expect(await debit(org, spend)).toMatchObject({ balanceAfter: 700 });
    expect(await debit(org, spend)).toBeUndefined();
    expect(await ledger.balance(org)).toBe(700);
    await db.transaction(async (tx) => {
      expect(await ledger.in(tx).isApplied(spend.sourceRef)).toBe(true);
      expect(await ledger.in(tx).isApplied(`test:${randomUUID()}`)).toBe(false);
    });
  });

  it("never takes a balance below zero: the database refuses what the caller's check missed", async () => {
    const org = await newOrg();
    await credit(org, entry(100));
    await expect(debit(org, entry(-101))).rejects.toThrow();
    expect(await ledger.balance(org)).toBe(100);
    expect(await ledger.entries(org, { limit: 10 })).toHaveLength(1);
  });

  it('lists entries newest first, a page at a time, filtered by type', async () => {
    const org = await newOrg();
    for (const amount of [100, 200, -50, 300])
      await (amount > 0 ? credit(org, entry(amount)) : debit(org, entry(amount)));
    const all = await ledger.entries(org, { limit: 10 });
    expect(all.map((e) => e.amount)).toEqual([300, -50, 200, 100]);
    const next = await ledger.entries(org, { limit: 2, beforeSeq: all[1].seq });
    expect(next.map((e) => e.amount)).toEqual([200, 100]);
    expect((await ledger.entries(org, { limit: 10, types: ['usage'] })).map((e) => e.amount)).toEqual([-50]);
  });

  describe('across orgs', () => {
    let orgA: string;
    let orgB: string;
    let aEntries: Awaited<ReturnType<LedgerRepository['entries']>>;
    const grantA = entry(1000);

    beforeAll(async () => {
      [orgA, orgB] = [await newOrg(), await newOrg()];
      await credit(orgA, grantA);
      await debit(orgA, entry(-100));
      aEntries = await ledger.entries(orgA, { limit: 10 });
    });
    const expectAUntouched = async () => {
      expect(await ledger.balance(orgA)).toBe(900);
      expect(await ledger.entries(orgA, { limit: 10 })).toEqual(aEntries);
    };

    it("org B reads none of org A's balance or entries, on any page or filter", async () => {
      expect(await ledger.balance(orgB)).toBe(0);
      expect(await ledger.entries(orgB, { limit: 10 })).toEqual([]);
      expect(await ledger.entries(orgB, { limit: 10, beforeSeq: aEntries[0].seq + 1 })).toEqual([]);
      expect(await ledger.entries(orgB, { limit: 10, types: ['purchase', 'usage'] })).toEqual([]);
      expect(await db.transaction((tx) => ledger.in(tx).lockBalance(orgB))).toEqual({ balance: 0, settleDue: false });
      expect(await db.transaction((tx) => ledger.in(tx).balance(orgB))).toBe(0);
    });

    it("org B's credits and debits move only org B's balance", async () => {
      expect(await credit(orgB, entry(500))).toMatchObject({ balanceAfter: 500 });
      expect(await debit(orgB, entry(-200))).toMatchObject({ balanceAfter: 300 });
      expect(await ledger.balance(orgB)).toBe(300);
      expect((await ledger.entries(orgB, { limit: 10 })).map((e) => e.amount)).toEqual([-200, 500]);
      await expectAUntouched();
    });

    it("org B cannot write an entry under a source org A used: nothing is written, A's rows stay as they were", async () => {
      const before = await ledger.balance(orgB);
      expect(await credit(orgB, { ...grantA })).toBeUndefined();
      expect(await ledger.balance(orgB)).toBe(before);
      await expectAUntouched();
    });

    it('a debit of an org with no balance row writes nothing, and never touches another org', async () => {
      const orgC = await newOrg();
      expect(await db.transaction((tx) => ledger.in(tx).debit(orgC, entry(-1)))).toBeUndefined();
      expect(await ledger.entries(orgC, { limit: 10 })).toEqual([]);
      await expectAUntouched();
    });
  });
});
