import { Injectable } from '@nestjs/common';
import { sql } from 'drizzle-orm';
import { Db, InjectDb, rows } from '@credits/database';
import { GRANT_FAILED } from '../auto-refill/auto-refill.repository';

export interface BalanceDrift {
  orgId: string;
  slug: string;
  balance: number;
  ledgerSum: number;
}

export interface PurchaseDrift {
  entryId: string;
  orgId: string;
  slug: string;
  sourceRef: string;
  amount: number;
  checkoutSessionId: string | null;
  problem: string;
}

export interface RefillDrift {
  refillId: string;
  orgId: string;
  slug: string;
  status: string;
  paymentIntent: string | null;
  createdAt: Date;
  problem: string;
}

/** Cross-org consistency checks for an operator: read-only, every org at once. */
@Injectable()
export class LedgerAuditRepository {
  constructor(@InjectDb() private readonly db: Db) {}

  /** Orgs whose balance row differs from the sum of their ledger (no row counts as 0). */
  async balanceDrift(): Promise<BalanceDrift[]> {
    const found = await rows<{ org_id: string; slug: string; balance: string; ledger_sum: string }>(
      this.db,
      sql`
      select o.id as org_id, o.slug, coalesce(b.balance, 0) as balance, coalesce(l.total, 0) as ledger_sum
      from organizations o
      left join credit_balances b on b.org_id = o.id
      left join (select org_id, sum(amount) as total from credit_ledger group by org_id) l on l.org_id = o.id
      where coalesce(b.balance, 0) <> coalesce(l.total, 0)
      order by o.slug`,
    );
    return found.map((r) => ({
      orgId: r.org_id,
      slug: r.slug,
      balance: Number(r.balance),
      ledgerSum: Number(r.ledger_sum),
    }));
  }

  /**
   * Refills an operator must look at: in flight for more than a day (no job, reconciliation
   * run or event has settled them; while one is in flight, the org gets no other), or charged
   * with their grant failed (`GRANT_FAILED`: money taken, credits not granted yet).
   */
  async refillDrift(): Promise<RefillDrift[]> {
    const found = await rows<{
      refill_id: string;
      org_id: string;
      slug: string;
      status: string;
      payment_intent: string | null;
      created_at: string | Date;
      problem: string;
    }>(
      this.db,
      sql`
      select r.id as refill_id, r.org_id, o.slug, r.status, r.stripe_payment_intent_id as payment_intent, r.created_at,
        case when r.status = 'failed' then 'paid at Stripe, credits not granted'
             else 'in flight for more than a day' end as problem
      from auto_refills r
      join organizations o on o.id = r.org_id
      where (r.status in ('pending', 'processing') and r.created_at < now() - interval '1 day')
         or (r.status = 'failed' and r.failure_code = ${GRANT_FAILED})
      order by o.slug, r.created_at`,
    );
    return found.map((r) => ({
      refillId: r.refill_id,
      orgId: r.org_id,
      slug: r.slug,
      status: r.status,
      paymentIntent: r.payment_intent,
      createdAt: new Date(r.created_at),
      problem: r.problem,
    }));
  }

  /**
   * Purchase entries that no paid Checkout session of the same org accounts for: no session,
   * another org's, one not fulfilled or not paid, a source other than `purchase:<its id>`, or
   * an amount other than the session's credits.
   */
  async purchaseDrift(): Promise<PurchaseDrift[]> {
    const found = await rows<{
      entry_id: string;
      org_id: string;
      slug: string;
      source_ref: string;
      amount: string;
      checkout_session_id: string | null;
      problem: string;
    }>(
      this.db,
      sql`
      select * from (
        select l.id as entry_id, l.org_id, o.slug, l.source_ref, l.amount, l.checkout_session_id,
          case
            when s.id is null then 'no checkout session'
            when s.org_id <> l.org_id then 'the checkout session belongs to another organization'
            when s.fulfilled_at is null or s.payment_status <> 'paid' then 'the checkout session is not paid'
            when l.source_ref <> 'purchase:' || s.id then 'the source is not purchase:<session id>'
            when l.amount <> s.credits then 'the amount differs from the session''s credits (' || s.credits || ')'
          end as problem
        from credit_ledger l
        join organizations o on o.id = l.org_id
        left join checkout_sessions s on s.id = l.checkout_session_id
        where l.transaction_type = 'purchase'
      ) t where problem is not null
      order by slug, entry_id`,
    );
    return found.map((r) => ({
      entryId: r.entry_id,
      orgId: r.org_id,
      slug: r.slug,
      sourceRef: r.source_ref,
      amount: Number(r.amount),
      checkoutSessionId: r.checkout_session_id,
      problem: r.problem,
    }));
  }
}
