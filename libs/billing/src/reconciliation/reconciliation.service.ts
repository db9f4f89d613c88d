import { Injectable, Logger } from '@nestjs/common';
import type Stripe from 'stripe';
import { StripeGateway } from '@credits/stripe';
import { AutoRefillPayments, RefillReconciliation } from '../auto-refill/auto-refill-payments';
import { CheckoutSessionRepository, CheckoutSessionRow } from '../checkout/checkout-session.repository';
import { CheckoutSessionSource } from '../fulfilment/checkout-session-source';
import { FulfilmentService } from '../fulfilment/fulfilment.service';
import { PermanentFailure } from '../fulfilment/permanent-failure';

export interface ReconcileWindow {
  /** Sessions created at or after this instant are checked… */
  since: Date;
  /** …and at or before this one (default: now). */
  until?: Date;
  /** Report what would be granted or expired; write nothing. */
  dryRun?: boolean;
  /** Sessions per Stripe list call: 100 (Stripe's most) unless a test walks smaller pages. */
  pageSize?: number;
}

export interface ReconciledSession {
  sessionId: string;
  orgId: string;
  credits: number;
}

export interface ReconcileReport {
  /** Checkout sessions Stripe listed in the window. */
  listed: number;
  /** Paid sessions granted by this run (with `dryRun`: that it would grant). */
  granted: ReconciledSession[];
  /** Our open records of sessions Stripe has expired, now marked expired. */
  expired: string[];
  /** Paid sessions that cannot be granted (e.g. an org that does not exist), for an operator. */
  failed: { sessionId: string; reason: string }[];
  /** Auto-refills of the window still in flight, settled from what Stripe says of their payment. */
  refills: RefillReconciliation;
}

/**
 * Catches up with Stripe: every paid Checkout session in a window that we have not granted
 * is granted, through the webhook's own exactly-once path (`FulfilmentService.settle`), so a
 * webhook endpoint down for days loses nothing and a run repeated grants nothing more.
 *
 * Auto-refill payments (PaymentIntents without a Checkout session) are a second pass: our
 * refills still in flight in the window, each one's PaymentIntent asked of Stripe.
 */
@Injectable()
export class ReconciliationService {
  private readonly logger = new Logger(ReconciliationService.name);

  constructor(
    private readonly stripe: StripeGateway,
    private readonly sessions: CheckoutSessionRepository,
    private readonly source: CheckoutSessionSource,
    private readonly fulfilment: FulfilmentService,
    private readonly autoRefills: AutoRefillPayments,
  ) {}

  async reconcile(window: ReconcileWindow): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      listed: 0,
      granted: [],
      expired: [],
      failed: [],
      refills: { granted: [], failed: [], requeued: [] },
    };
    await this.checkoutSessions(window, report);
    report.refills = await this.autoRefills.reconcile({
      since: window.since,
      until: window.until ?? new Date(),
      dryRun: window.dryRun,
    });
    const { refills } = report;
    if (refills.granted.length + refills.failed.length + refills.requeued.length > 0) {
      this.logger.warn({
        msg: window.dryRun ? 'reconciliation would settle auto-refills' : 'reconciliation settled auto-refills',
        ...refills,
      });
    }
    if (report.granted.length > 0 || report.expired.length > 0 || report.failed.length > 0) {
      this.logger.warn({
        msg: window.dryRun ? 'reconciliation would change missed purchases' : 'reconciliation settled missed purchases',
        granted: report.granted.map((s) => s.sessionId),
        expired: report.expired,
        failed: report.failed,
      });
    }
    return report;
  }

  private async checkoutSessions(window: ReconcileWindow, report: ReconcileReport): Promise<void> {
    const created = {
      gte: Math.floor(window.since.getTime() / 1000),
      lte: Math.floor((window.until ?? new Date()).getTime() / 1000),
    };
    let startingAfter: string | undefined;
    for (;;) {
      const page = await this.stripe.listCheckoutSessions({
        created,
        limit: window.pageSize ?? 100,
        ...(startingAfter && { starting_after: startingAfter }),
      });
      report.listed += page.data.length;
      const ours = new Map((await this.sessions.byIds(page.data.map((s) => s.id))).map((row) => [row.id, row]));
      for (const session of page.data) await this.checkoutSession(session, ours.get(session.id), window, report);
      if (!page.has_more || page.data.length === 0) return;
      startingAfter = page.data[page.data.length - 1].id;
    }
  }

  private async checkoutSession(
    session: Stripe.Checkout.Session,
    row: CheckoutSessionRow | undefined,
    window: ReconcileWindow,
    report: ReconcileReport,
  ): Promise<void> {
    if (session.status === 'expired' && row?.status === 'open') {
      if (!window.dryRun) await this.fulfilment.settle(session);
      report.expired.push(session.id);
      return;
    }
    const paid = session.payment_status === 'paid' || session.payment_status === 'no_payment_required';
    if (session.status !== 'complete' || !paid || row?.fulfilledAt) return;
    // Sessions another service created on the same Stripe account are none of ours.
    if (!row && !session.metadata?.org_id) return;
    let missing: CheckoutSessionRow | undefined;
    try {
      // Our record was never written (the process died after Stripe created the session).
      if (!row) missing = await this.source.rebuild(session.id);
    } catch (error) {
      if (!(error instanceof PermanentFailure)) throw error;
      report.failed.push({ sessionId: session.id, reason: error.message });
      return;
    }
    const target = (row ?? missing)!;
    const entry = { sessionId: session.id, orgId: target.orgId, credits: target.credits };
    if (window.dryRun || (await this.fulfilment.settle(session, missing))) report.granted.push(entry);
  }
}
