import { Injectable } from '@nestjs/common';
import { and, eq, gte, inArray, lte, or, sql } from 'drizzle-orm';
import { autoRefills, autoRefillSettings, Db, DbTransaction, InjectDb, organizations, rows } from '@credits/database';

export type AutoRefillSettingsRow = typeof autoRefillSettings.$inferSelect;
export type AutoRefillRow = typeof autoRefills.$inferSelect;

export interface AutoRefillChoice {
  enabled: boolean;
  threshold: number;
  quantity: number;
  monthlyLimit: number;
}

export interface SavedCard {
  paymentMethodId: string;
  brand: string | null;
  last4: string | null;
  expMonth: number | null;
  expYear: number | null;
}

export interface RefillFailure {
  at: Date;
  code: string;
  message: string;
}

/** What one refill costs and grants, from the configuration of the moment it starts. */
export interface BundlePrice {
  creditsPerBundle: number;
  unitAmount: number;
  currency: string;
}

export type AutoRefillChanges = Partial<
  Pick<AutoRefillRow, 'status' | 'stripePaymentIntentId' | 'failureCode' | 'failureMessage' | 'refundSettledCredits'>
>;

/**
 * The failure code of a refill Stripe charged whose credits could not be granted: not settled
 * (reconciliation keeps trying, `credits audit` lists it), unlike every other failure.
 */
export const GRANT_FAILED = 'grant_failed';

/** The first instant of the current calendar month, UTC: where a month's refills are counted from. */
const MONTH_START = sql`(date_trunc('month', now() at time zone 'utc') at time zone 'utc')`;

/** Refills that count against the monthly limit: succeeded, or still in flight (also spelled out in `startIfDue`). */
const COUNTED = sql`status in ('pending', 'processing', 'succeeded')`;

/**
 * Auto-refill settings (one row per org) and refill attempts. A refill is also found by its
 * own id or its PaymentIntent alone (`lock`, `idByPaymentIntent`): ids unique across orgs, and
 * how a job or a Stripe event names it before anything tells us its org; the row does.
 */
@Injectable()
export class AutoRefillRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  in(tx: DbTransaction): AutoRefillWriter {
    return new AutoRefillWriter(tx);
  }

  async settings(orgId: string): Promise<AutoRefillSettingsRow | undefined> {
    const [row] = await this.db.select().from(autoRefillSettings).where(eq(autoRefillSettings.orgId, orgId));
    return row;
  }

  /** Whether the org's auto-refill is on (false when it never set it up). */
  async enabled(orgId: string): Promise<boolean> {
    return (await this.settings(orgId))?.enabled ?? false;
  }

  /** Refills this calendar month (UTC) that succeeded or are in flight. */
  async refillsThisMonth(orgId: string): Promise<number> {
    const [row] = await rows<{ n: number | string }>(
      this.db,
      sql`select count(*)::int as n from ${autoRefills} where org_id = ${orgId}::uuid and ${COUNTED} and created_at >= ${MONTH_START}`,
    );
    return Number(row?.n ?? 0);
  }

  async idByPaymentIntent(paymentIntentId: string): Promise<string | undefined> {
    const [row] = await this.db
      .select({ id: autoRefills.id })
      .from(autoRefills)
      .where(eq(autoRefills.stripePaymentIntentId, paymentIntentId));
    return row?.id;
  }

  /**
   * Refills of every org not settled yet, started in the window (reconciliation's question):
   * in flight, or charged with their grant failed (`GRANT_FAILED`).
   */
  unsettled(since: Date, until: Date): Promise<AutoRefillRow[]> {
    return this.db
      .select()
      .from(autoRefills)
      .where(
        and(
          or(
            inArray(autoRefills.status, ['pending', 'processing']),
            and(eq(autoRefills.status, 'failed'), eq(autoRefills.failureCode, GRANT_FAILED)),
          ),
          gte(autoRefills.createdAt, since),
          lte(autoRefills.createdAt, until),
        ),
      );
  }

  async stripeCustomerId(orgId: string): Promise<string | null> {
    const [row] = await this.db
      .select({ id: organizations.stripeCustomerId })
      .from(organizations)
      .where(eq(organizations.id, orgId));
    return row?.id ?? null;
  }
}

export class AutoRefillWriter {
  constructor(private readonly tx: DbTransaction) {}

  async settings(orgId: string): Promise<AutoRefillSettingsRow | undefined> {
    const [row] = await this.tx.select().from(autoRefillSettings).where(eq(autoRefillSettings.orgId, orgId));
    return row;
  }

  /** Writes the org's choice; `clearFailure` forgets the last failure (re-enabling acknowledges it). */
  async choose(orgId: string, choice: AutoRefillChoice, clearFailure: boolean): Promise<AutoRefillSettingsRow> {
    const cleared = clearFailure ? { lastFailureAt: null, lastFailureCode: null, lastFailureMessage: null } : {};
    const [row] = await this.tx
      .insert(autoRefillSettings)
      .values({ orgId, ...choice, ...cleared })
      .onConflictDoUpdate({ target: autoRefillSettings.orgId, set: { ...choice, ...cleared, updatedAt: new Date() } })
      .returning();
    return row;
  }

  /** The card to charge from now on; a new card forgets the last card's failure. */
  async saveCard(orgId: string, card: SavedCard): Promise<void> {
    const values = {
      paymentMethodId: card.paymentMethodId,
      cardBrand: card.brand,
      cardLast4: card.last4,
      cardExpMonth: card.expMonth,
      cardExpYear: card.expYear,
      lastFailureAt: null,
      lastFailureCode: null,
      lastFailureMessage: null,
    };
    await this.tx
      .insert(autoRefillSettings)
      .values({ orgId, ...values })
      .onConflictDoUpdate({ target: autoRefillSettings.orgId, set: { ...values, updatedAt: new Date() } });
  }

  /** Turns auto-refill off and records why: the card will not be charged again until someone re-enables it. */
  async disable(orgId: string, failure: RefillFailure): Promise<void> {
    await this.tx
      .update(autoRefillSettings)
      .set({
        enabled: false,
        lastFailureAt: failure.at,
        lastFailureCode: failure.code,
        lastFailureMessage: failure.message,
        updatedAt: new Date(),
      })
      .where(eq(autoRefillSettings.orgId, orgId));
  }

  /**
   * Starts a refill when one is due: auto-refill on with a card, `availableBalance` below the
   * threshold, and fewer refills this month than the limit. One statement; the unique index
   * on the org's in-flight refill makes a second one, from any instance, a no-op (it waits for
   * a concurrent insert to commit, then finds it). Answers the new refill's id.
   */
  async startIfDue(orgId: string, availableBalance: number, price: BundlePrice): Promise<string | undefined> {
    const [row] = await rows<{ id: string }>(
      this.tx,
      sql`
      insert into ${autoRefills} (org_id, bundles, credits, amount, currency)
      select s.org_id, s.quantity, s.quantity * ${price.creditsPerBundle}::bigint,
             s.quantity * ${price.unitAmount}::bigint, ${price.currency}::text
      from ${autoRefillSettings} s
      where s.org_id = ${orgId}::uuid and s.enabled and s.payment_method_id is not null
        and ${availableBalance}::bigint < s.threshold
        and (select count(*) from ${autoRefills} r
             where r.org_id = s.org_id and r.status in ('pending', 'processing', 'succeeded') and r.created_at >= ${MONTH_START}) < s.monthly_limit
      on conflict (org_id) where status in ('pending', 'processing') do nothing
      returning id`,
    );
    return row?.id;
  }

  async idByPaymentIntent(paymentIntentId: string): Promise<string | undefined> {
    const [row] = await this.tx
      .select({ id: autoRefills.id })
      .from(autoRefills)
      .where(eq(autoRefills.stripePaymentIntentId, paymentIntentId));
    return row?.id;
  }

  /** The refill, its row locked for the rest of the transaction; undefined when unknown. */
  async lock(refillId: string): Promise<AutoRefillRow | undefined> {
    const [row] = await this.tx.select().from(autoRefills).where(eq(autoRefills.id, refillId)).for('update');
    return row;
  }

  async update(orgId: string, refillId: string, changes: AutoRefillChanges): Promise<void> {
    await this.tx
      .update(autoRefills)
      .set({ ...changes, updatedAt: new Date() })
      .where(and(eq(autoRefills.id, refillId), eq(autoRefills.orgId, orgId)));
  }
}
