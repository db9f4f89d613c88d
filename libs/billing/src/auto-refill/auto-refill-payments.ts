import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type Stripe from 'stripe';
import { Db, DbTransaction, InjectDb } from '@credits/database';
import { ApiException } from '@credits/errors';
import { JobsService } from '@credits/jobs';
import { type OffSessionPayment, receiptUrlOf, StripeGateway } from '@credits/stripe';
import { PermanentFailure } from '../fulfilment/permanent-failure';
import { debitWithinBalance, refundShare } from '../fulfilment/refund-arithmetic';
import { LedgerRepository } from '../ledger/ledger.repository';
import { LedgerService } from '../ledger/ledger.service';
import { NotificationOutbox } from '../notifications/notification-outbox';
import { autoRefillChargeJob, paymentDetailsJob, type PaymentDetailsJobData } from './auto-refill-jobs';
import { AutoRefillRepository, AutoRefillRow, GRANT_FAILED, RefillFailure } from './auto-refill.repository';
import { savedCardOf } from './saved-card';

/** What a reconciliation pass did to refills not settled (their ids). */
export interface RefillReconciliation {
  /** Paid at Stripe: granted now. */
  granted: string[];
  /** Declined or canceled at Stripe: failed now, auto-refill turned off. */
  failed: string[];
  /** No PaymentIntent recorded: the charge job sent again. */
  requeued: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Stripe forgets an idempotency key once it is 24 hours old: after that, a charge sent again
 * under the refill's key is a second charge. A refill older than this (an hour to spare) is
 * looked for at Stripe before any charge.
 */
const KEY_TRUSTED_MS = 23 * 3_600_000;

/** A refill's PaymentIntent is looked for from a little before the refill was made: two machines' clocks. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The code a failure is recorded under: the issuer's reason when it says more than "declined". */
export function failureCodeOf(code: string, declineCode: string | null): string {
  return declineCode && declineCode !== 'generic_decline' ? declineCode : code;
}

/**
 * Charging a refill's card and what Stripe answers: the charge job, the `payment_intent.*`
 * events and refunds of a refill's charge. Credits are granted once per PaymentIntent
 * (`auto_refill:<pi>` is a unique source), whether the charge's answer or the event comes
 * first. A decline of any kind turns auto-refill off and notifies; nothing here charges a
 * declined card again.
 */
@Injectable()
export class AutoRefillPayments implements OnModuleInit {
  private readonly logger = new Logger('AutoRefill');

  constructor(
    @InjectDb() private readonly db: Db,
    private readonly refills: AutoRefillRepository,
    private readonly stripe: StripeGateway,
    private readonly ledger: LedgerService,
    private readonly entries: LedgerRepository,
    private readonly outbox: NotificationOutbox,
    private readonly jobs: JobsService,
  ) {}

  onModuleInit(): void {
    const attempts = autoRefillChargeJob.retry.limit + 1;
    this.jobs.handle(autoRefillChargeJob, ({ refillId }, { attempt }) => this.charge(refillId, attempt >= attempts));
    this.jobs.handle(paymentDetailsJob, (data) => this.fetchDetails(data));
  }

  /**
   * Charges a pending refill (the job; it may run twice: the idempotency key
   * `auto_refill:<refill id>` gets Stripe's first answer again, and past the key's 24 hours the
   * refill's PaymentIntent is looked for at Stripe first). `lastAttempt`: the job's last run;
   * if it fails too, the refill ends failed rather than pending for ever (`giveUp`).
   */
  async charge(refillId: string, lastAttempt = false): Promise<void> {
    const refill = await this.db.transaction((tx) => this.refills.in(tx).lock(refillId));
    if (!refill || refill.status !== 'pending') return;
    // Set once Stripe has said the card was charged: from then on the refill is granted, never charged.
    let paidBy = refill.stripePaymentIntentId;
    try {
      const outcome = await this.paymentOf(refill);
      if (!outcome) return;
      if (outcome.status === 'succeeded') {
        paidBy = outcome.paymentIntent.id;
        await this.grantPaid(refill, outcome.paymentIntent.id, outcome.receiptUrl);
      } else if (outcome.status === 'processing') {
        const paymentIntentId = outcome.paymentIntent.id;
        await this.db.transaction(async (tx) => {
          const row = await this.refills.in(tx).lock(refill.id);
          if (row?.status === 'pending')
            await this.refills
              .in(tx)
              .update(row.orgId, row.id, { status: 'processing', stripePaymentIntentId: paymentIntentId });
        });
      } else {
        const failure = {
          at: new Date(),
          code: failureCodeOf(outcome.code, outcome.declineCode),
          message: outcome.message,
        };
        this.logger.warn({
          msg: 'auto-refill declined',
          auto_refill_id: refill.id,
          org_id: refill.orgId,
          code: failure.code,
        });
        await this.db.transaction((tx) => this.fail(tx, refill.id, outcome.paymentIntentId, failure, true));
      }
    } catch (error) {
      if (lastAttempt) await this.giveUp(refill, paidBy, error);
      throw error;
    }
  }

  /**
   * What Stripe says of the refill's payment. A payment an earlier run made is read back
   * instead of charging: the one recorded, or, found by the refill's id in its metadata, one
   * whose answer was lost, once the refill's idempotency key may be forgotten (24 h) or when
   * no new charge may be made. Otherwise the card is charged under the refill's key. Undefined:
   * auto-refill was turned off before any charge (the refill is failed here).
   */
  private async paymentOf(refill: AutoRefillRow): Promise<OffSessionPayment | undefined> {
    if (refill.stripePaymentIntentId) {
      const recorded = await this.stripe.retrieveOffSessionPayment(refill.stripePaymentIntentId);
      if (!recorded)
        throw new Error(`Stripe does not know ${refill.stripePaymentIntentId}, which paid refill ${refill.id}`);
      return recorded;
    }
    const settings = await this.refills.settings(refill.orgId);
    const customer = await this.refills.stripeCustomerId(refill.orgId);
    const chargeable = Boolean(settings?.enabled && settings.paymentMethodId && customer);
    const keyForgotten = Date.now() - refill.createdAt.getTime() >= KEY_TRUSTED_MS;
    if (customer && (keyForgotten || !chargeable)) {
      const earlier = await this.stripe.findOffSessionPayment(
        customer,
        new Date(refill.createdAt.getTime() - CLOCK_SKEW_MS),
        { key: 'auto_refill_id', value: refill.id },
      );
      if (earlier) return earlier;
    }
    if (!settings?.enabled || !settings.paymentMethodId || !customer) {
      // Turned off since the refill started: nothing is charged.
      await this.db.transaction((tx) =>
        this.fail(
          tx,
          refill.id,
          null,
          { at: new Date(), code: 'auto_refill_disabled', message: 'Auto-refill was turned off before the charge' },
          false,
        ),
      );
      return undefined;
    }
    return this.stripe.createOffSessionPaymentIntent(
      {
        amount: refill.amount,
        currency: refill.currency,
        customer,
        payment_method: settings.paymentMethodId,
        metadata: {
          auto_refill_id: refill.id,
          org_id: refill.orgId,
          bundles: String(refill.bundles),
          credits: String(refill.credits),
        },
      },
      `auto_refill:${refill.id}`,
    );
  }

  /**
   * Grants a refill Stripe charged. When the grant fails, the PaymentIntent is kept on the
   * refill first, so no later run charges the card again, whatever Stripe has forgotten.
   */
  private async grantPaid(refill: AutoRefillRow, paymentIntentId: string, receiptUrl: string | null): Promise<void> {
    try {
      await this.db.transaction((tx) => this.grant(tx, refill.id, paymentIntentId, receiptUrl));
    } catch (error) {
      await this.db
        .transaction(async (tx) => {
          const row = await this.refills.in(tx).lock(refill.id);
          if (row?.status === 'pending' && !row.stripePaymentIntentId)
            await this.refills.in(tx).update(row.orgId, row.id, { stripePaymentIntentId: paymentIntentId });
        })
        .catch((recordError: unknown) =>
          this.logger.error({
            msg: 'could not record the payment of a refill whose grant failed',
            auto_refill_id: refill.id,
            payment_intent: paymentIntentId,
            err: recordError,
          }),
        );
      throw error;
    }
  }

  /**
   * The job's last run failed too. Charged (`paidBy`): the credits could not be granted; the
   * refill ends failed (`GRANT_FAILED`) with auto-refill off and the host told, so nothing more
   * is charged until someone looks; reconciliation keeps granting it and `credits audit` lists
   * it. Not charged: Stripe could not be reached; the refill is given up (not disabled: the card
   * did nothing wrong), so the org's next crossing of the threshold can start another.
   */
  private async giveUp(refill: AutoRefillRow, paidBy: string | null, error: unknown): Promise<void> {
    this.logger.error({
      msg: paidBy ? 'auto-refill charged but its credits could not be granted' : 'auto-refill given up',
      auto_refill_id: refill.id,
      org_id: refill.orgId,
      payment_intent: paidBy,
      err: error,
    });
    // Shown to the org's members (last_failure): nothing of the cause, which may be internal.
    const failure = paidBy
      ? {
          at: new Date(),
          code: GRANT_FAILED,
          message: 'The card was charged but the credits could not be granted yet; they will be',
        }
      : {
          at: new Date(),
          code: 'payment_provider_error',
          // The gateway's errors are the envelope's, written for callers; anything else may be internal.
          message: error instanceof ApiException ? error.message : 'The payment provider could not be reached',
        };
    await this.db.transaction((tx) => this.fail(tx, refill.id, paidBy, failure, paidBy !== null));
  }

  /** `payment_intent.succeeded`, in the event's transaction: grants a refill's credits (other intents are not ours to handle here). */
  async paymentSucceeded(tx: DbTransaction, intent: Stripe.PaymentIntent): Promise<void> {
    const refillId = await this.refillOf(tx, intent);
    if (!refillId) return;
    await this.grant(tx, refillId, intent.id, receiptUrlOf(intent));
  }

  /** `payment_intent.payment_failed`, in the event's transaction: a refill's decline, as if the charge had answered it. */
  async paymentFailed(tx: DbTransaction, intent: Stripe.PaymentIntent): Promise<void> {
    const refillId = await this.refillOf(tx, intent);
    if (!refillId) return;
    const error = intent.last_payment_error;
    await this.fail(
      tx,
      refillId,
      intent.id,
      {
        at: new Date(),
        code: failureCodeOf(error?.code ?? 'card_declined', error?.decline_code ?? null),
        message: error?.message ?? 'The card was declined',
      },
      true,
    );
  }

  /**
   * `charge.refunded` for a refill's charge (`refillId`: the refill its PaymentIntent paid, ours
   * or named in the intent's metadata at Stripe when we had not recorded it yet): debits the
   * refunded share of its credits like a purchase refund (`refundShare`), within the balance.
   * What earlier refunds of the charge settled, debited or forgiven because the credits were
   * spent, is `refund_settled_credits`: a forgiven shortfall is never collected later.
   */
  async refunded(tx: DbTransaction, charge: Stripe.Charge, refillId: string): Promise<void> {
    const paymentIntent = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
    if (!paymentIntent) throw new PermanentFailure(`refund for charge ${charge.id} has no payment intent`);
    let refill = await this.lockRefill(tx, refillId);
    if (refill.status !== 'succeeded') {
      // The refund overtook the payment's answer: a refunded charge was paid.
      if (!(charge.paid && charge.status === 'succeeded'))
        throw new PermanentFailure(`refund for charge ${charge.id}, which was never paid, on refill ${refill.id}`);
      await this.grant(tx, refill.id, paymentIntent, charge.receipt_url ?? null);
      refill = await this.lockRefill(tx, refillId);
    }
    // Credits come from the PaymentIntent that paid the refill, and only they are taken back.
    if (refill.stripePaymentIntentId !== paymentIntent)
      throw new PermanentFailure(
        `refund for charge ${charge.id} of ${paymentIntent}, which did not pay refill ${refill.id} (${refill.stripePaymentIntentId})`,
      );
    // The balance before the refill's row changes, in the order `grant` takes them. A refund
    // takes what is spendable (never what a hold reserved), its own grant's first.
    await this.ledger.lockBalance(tx, refill.orgId);
    const balance = (await this.ledger.spendable(tx, refill.orgId)).available;
    // Refunds settled before refills kept count left only their ledger entries, what they debited.
    const settled = Math.max(
      refill.refundSettledCredits,
      await this.entries.in(tx).refundedCredits(refill.orgId, charge.id),
    );
    const { paid, owed, due } = refundShare({
      credits: refill.credits,
      settled,
      chargeAmount: charge.amount,
      sessionAmount: refill.amount,
      refunded: charge.amount_refunded,
    });
    if (due === 0) return;
    // Settled from now on, whether debited below or forgiven because it was already spent.
    await this.refills.in(tx).update(refill.orgId, refill.id, { refundSettledCredits: owed });
    const { debit, forgiven } = debitWithinBalance(due, balance);
    if (forgiven > 0)
      this.logger.warn({
        msg: 'refund exceeds the spendable balance; forgiving the rest',
        auto_refill_id: refill.id,
        owed: due,
        balance,
        forgiven,
      });
    if (debit === 0) return;
    await this.ledger.apply(tx, {
      orgId: refill.orgId,
      amount: -debit,
      transactionType: 'refund',
      description: `Refund of ${charge.amount_refunded} of ${paid} ${refill.currency.toUpperCase()} (auto-refill charge ${charge.id})`,
      sourceRef: `refund:${charge.id}:${charge.amount_refunded}`,
      drawFirstFrom: `auto_refill:${paymentIntent}`,
    });
  }

  /**
   * Reconciliation's pass over refills not settled that started in the window: a lost
   * `payment_intent.*` event, a job that gave out or a grant that failed must not leave a
   * refill unsettled for ever (one in flight blocks every later one). Each PaymentIntent is
   * asked of Stripe and its outcome applied through the same paths as the job and the events;
   * a refill that never got one has its job sent again (which looks for an earlier payment at
   * Stripe before charging, once the refill's idempotency key may be forgotten). A refill that
   * cannot be settled now does not stop the others; the pass then fails with its error, once
   * every other refill was settled.
   */
  async reconcile(window: { since: Date; until: Date; dryRun?: boolean }): Promise<RefillReconciliation> {
    const report: RefillReconciliation = { granted: [], failed: [], requeued: [] };
    const errors: unknown[] = [];
    for (const refill of await this.refills.unsettled(window.since, window.until)) {
      try {
        await this.reconcileOne(refill, window.dryRun === true, report);
      } catch (error) {
        this.logger.error({ msg: 'auto-refill not reconciled', auto_refill_id: refill.id, err: error });
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
    return report;
  }

  private async reconcileOne(refill: AutoRefillRow, dryRun: boolean, report: RefillReconciliation): Promise<void> {
    const paymentIntentId = refill.stripePaymentIntentId;
    if (!paymentIntentId) {
      if (!dryRun) await this.jobs.send(autoRefillChargeJob, { refillId: refill.id });
      report.requeued.push(refill.id);
      return;
    }
    const intent = await this.stripe.retrievePaymentIntent(paymentIntentId, { expand: ['latest_charge'] });
    if (intent?.status === 'succeeded') {
      if (!dryRun) await this.db.transaction((tx) => this.grant(tx, refill.id, intent.id, receiptUrlOf(intent)));
      report.granted.push(refill.id);
    } else if (intent?.status === 'requires_payment_method' || intent?.status === 'canceled') {
      if (!dryRun) await this.db.transaction((tx) => this.paymentFailed(tx, intent));
      report.failed.push(refill.id);
    }
  }

  /** The payment details job: the entry's receipt, and the card to keep when the buyer asked. */
  async fetchDetails({
    orgId,
    paymentIntentId,
    entryId,
    savePaymentMethod,
    cardSaved,
  }: PaymentDetailsJobData): Promise<void> {
    const intent = await this.stripe.retrievePaymentIntent(paymentIntentId, { expand: ['latest_charge'] });
    if (!intent) {
      this.logger.error({
        msg: 'payment intent unknown to Stripe; no receipt or card',
        payment_intent: paymentIntentId,
      });
      return;
    }
    const receiptUrl = receiptUrlOf(intent);
    if (receiptUrl) await this.entries.setReceiptUrl(orgId, entryId, receiptUrl);
    if (!savePaymentMethod) return;
    const methodId = typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method?.id;
    if (!methodId) {
      this.logger.error({ msg: 'the payment kept no payment method to save', payment_intent: paymentIntentId });
      return;
    }
    const customer =
      (typeof intent.customer === 'string' ? intent.customer : intent.customer?.id) ??
      (await this.refills.stripeCustomerId(orgId));
    if (customer) await this.stripe.setDefaultPaymentMethod(customer, methodId);
    // Kept with the grant (read before it): only Stripe's default was left to set.
    if (cardSaved) return;
    const method = await this.stripe.retrievePaymentMethod(methodId);
    if (!method) {
      this.logger.error({ msg: 'the payment kept no payment method to save', payment_intent: paymentIntentId });
      return;
    }
    await this.db.transaction((tx) => this.refills.in(tx).saveCard(orgId, savedCardOf(method)));
    this.logger.log({ msg: 'card saved for auto-refill', org_id: orgId, payment_method: method.id });
  }

  /**
   * Grants a refill's credits once (`auto_refill:<pi>` is unique) and marks it succeeded,
   * even one given up or failed before: money taken is credits owed. The balance is locked
   * before the refill's row changes: a debit holds the balance while it may start a refill,
   * which waits on a refill row being changed; the other order would deadlock.
   */
  private async grant(tx: DbTransaction, refillId: string, paymentIntentId: string, receiptUrl: string | null) {
    const refill = await this.lockRefill(tx, refillId);
    if (refill.stripePaymentIntentId && refill.stripePaymentIntentId !== paymentIntentId)
      throw new PermanentFailure(
        `refill ${refill.id} was paid by ${refill.stripePaymentIntentId}, not ${paymentIntentId}`,
      );
    await this.ledger.lockBalance(tx, refill.orgId);
    const entry = await this.ledger.apply(tx, {
      orgId: refill.orgId,
      amount: refill.credits,
      transactionType: 'auto_refill',
      description: `Auto-refill of ${refill.bundles} credit bundle${refill.bundles === 1 ? '' : 's'} (${refill.credits} credits)`,
      sourceRef: `auto_refill:${paymentIntentId}`,
      receiptUrl,
    });
    if (refill.status !== 'succeeded')
      await this.refills.in(tx).update(refill.orgId, refill.id, {
        status: 'succeeded',
        stripePaymentIntentId: paymentIntentId,
        failureCode: null,
        failureMessage: null,
      });
    if (!entry.applied || !entry.entryId) return;
    this.logger.log({
      msg: 'auto-refill granted',
      auto_refill_id: refill.id,
      org_id: refill.orgId,
      credits: refill.credits,
    });
    await this.outbox.emit(tx, refill.orgId, [
      {
        type: 'auto_refill.succeeded',
        data: {
          auto_refill_id: refill.id,
          credits: refill.credits,
          amount: refill.amount,
          currency: refill.currency,
          payment_intent: paymentIntentId,
          transaction_id: entry.entryId,
          balance: entry.balance,
        },
      },
    ]);
    if (!receiptUrl)
      await this.jobs.send(
        paymentDetailsJob,
        { orgId: refill.orgId, paymentIntentId, entryId: entry.entryId, savePaymentMethod: false },
        { tx },
      );
  }

  /**
   * Records a refill's failure, once, unless it was granted. `disable`: a decline, or a charge
   * whose credits could not be granted (`GRANT_FAILED`), which turns auto-refill off, records
   * `last_failure` and notifies; not for a refill that never reached the card (turned off
   * meanwhile, Stripe unreachable).
   */
  private async fail(
    tx: DbTransaction,
    refillId: string,
    paymentIntentId: string | null,
    failure: RefillFailure,
    disable: boolean,
  ): Promise<void> {
    const refill = await this.refills.in(tx).lock(refillId);
    if (!refill || refill.status === 'succeeded' || refill.status === 'failed') return;
    await this.refills.in(tx).update(refill.orgId, refill.id, {
      status: 'failed',
      stripePaymentIntentId: paymentIntentId ?? refill.stripePaymentIntentId,
      failureCode: failure.code,
      failureMessage: failure.message,
    });
    if (!disable) return;
    await this.refills.in(tx).disable(refill.orgId, failure);
    await this.outbox.emit(tx, refill.orgId, [
      {
        type: 'auto_refill.failed',
        data: {
          auto_refill_id: refill.id,
          credits: refill.credits,
          amount: refill.amount,
          currency: refill.currency,
          payment_intent: paymentIntentId,
          code: failure.code,
          message: failure.message,
        },
      },
    ]);
  }

  /** The refill a PaymentIntent pays: named in its metadata (set when it was created), else found by its id. */
  private async refillOf(tx: DbTransaction, intent: Stripe.PaymentIntent): Promise<string | undefined> {
    const named = intent.metadata?.auto_refill_id;
    if (named && UUID.test(named)) return named;
    // Inside the event's transaction: PGlite has one connection, a query beside it would wait forever.
    return this.refills.in(tx).idByPaymentIntent(intent.id);
  }

  private async lockRefill(tx: DbTransaction, refillId: string): Promise<AutoRefillRow> {
    const refill = await this.refills.in(tx).lock(refillId);
    if (!refill) throw new PermanentFailure(`auto-refill ${refillId} is unknown`);
    return refill;
  }
}
