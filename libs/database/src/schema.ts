/**
 * The system of record. Money invariants live here as constraints, not as `if`s:
 * a Checkout session grants at most once because `credit_ledger.source_ref` is unique,
 * and a Stripe event is processed at most once because `stripe_events.id` is the key.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const MEMBER_ROLES = ['member', 'admin', 'owner'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const organizations = pgTable('organizations', {
  id: uuid('id').primaryKey().defaultRandom(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  /** Created on the first checkout; unique so two orgs can never share a customer. */
  stripeCustomerId: text('stripe_customer_id').unique(),
  createdAt: createdAt(),
});

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** Stored lower-cased; JWT `sub` may carry either this email or the id. */
  email: text('email').notNull().unique(),
  createdAt: createdAt(),
});

export const memberships = pgTable(
  'memberships',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role').$type<MemberRole>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.userId] }),
    index('memberships_user_idx').on(t.userId),
    check('memberships_role_check', sql`${t.role} in ('owner', 'admin', 'member')`),
  ],
);

export const API_KEY_SCOPES = ['org:read', 'credits:read', 'credits:purchase', 'credits:spend'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** The user a user key acts as; null for a service key, which belongs to no user. */
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    /** A service key's name (the host backend that holds it); null for a user key. */
    serviceName: text('service_name'),
    name: text('name').notNull(),
    /** The visible, non-secret start of the key; what `apikey revoke` takes. */
    prefix: text('prefix').notNull().unique(),
    /** SHA-256 of the whole key, hex. The key itself is shown once and never stored. */
    keyHash: text('key_hash').notNull().unique(),
    /**
     * What the key may do. Null on a user key: what its role allows. A service key always
     * lists its scopes; `credits:spend` is never implied.
     */
    scopes: text('scopes').array().$type<ApiKeyScope[]>(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
  },
  (t) => [
    index('api_keys_user_idx').on(t.userId),
    check('api_keys_owner_check', sql`(${t.userId} is null) <> (${t.serviceName} is null)`),
    check('api_keys_service_scopes_check', sql`${t.serviceName} is null or ${t.scopes} is not null`),
  ],
);

/** The orgs a service key is limited to; a service key with no row here serves every org. */
export const apiKeyOrgs = pgTable(
  'api_key_orgs',
  {
    apiKeyId: uuid('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.orgId] })],
);

export const CHECKOUT_STATUSES = ['open', 'complete', 'expired', 'failed'] as const;
export type CheckoutStatus = (typeof CHECKOUT_STATUSES)[number];

/** Our record of each Stripe Checkout session, written only once Stripe has created it. */
export const checkoutSessions = pgTable(
  'checkout_sessions',
  {
    /** Stripe's id (`cs_…`). */
    id: text('id').primaryKey(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    bundles: integer('bundles').notNull(),
    credits: bigint('credits', { mode: 'number' }).notNull(),
    amountTotal: bigint('amount_total', { mode: 'number' }),
    currency: text('currency'),
    status: text('status').$type<CheckoutStatus>().notNull().default('open'),
    paymentStatus: text('payment_status').notNull().default('unpaid'),
    /** Set once credits were granted; the unique ledger `source_ref` is what enforces once. */
    fulfilledAt: timestamp('fulfilled_at', { withTimezone: true }),
    stripePaymentIntentId: text('stripe_payment_intent_id'),
    /** The buyer asked to keep the card for auto-refill (`setup_future_usage = off_session`). */
    savePaymentMethod: boolean('save_payment_method').notNull().default(false),
    /**
     * Credits of this session's refunds already settled: debited, or forgiven because the org
     * had spent them. A later refund of the same charge owes only what is beyond this, so a
     * forgiven shortfall is never collected from a later purchase.
     */
    refundSettledCredits: bigint('refund_settled_credits', { mode: 'number' }).notNull().default(0),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('checkout_sessions_org_idx').on(t.orgId, t.createdAt),
    index('checkout_sessions_payment_intent_idx').on(t.stripePaymentIntentId),
    check('checkout_sessions_status_check', sql`${t.status} in ('open', 'complete', 'expired', 'failed')`),
    check('checkout_sessions_bundles_check', sql`${t.bundles} > 0`),
  ],
);

export const TRANSACTION_TYPES = [
  'purchase',
  'refund',
  'usage',
  'admin_adjustment',
  'auto_refill',
  'expiration',
  'void',
] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** Append-only. An org's balance is always the sum of its entries. */
export const creditLedger = pgTable(
  'credit_ledger',
  {
    /** Orders entries and backs the opaque pagination cursor. */
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    id: uuid('id').notNull().unique().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    balanceAfter: bigint('balance_after', { mode: 'number' }).notNull(),
    transactionType: text('transaction_type').$type<TransactionType>().notNull(),
    description: text('description').notNull(),
    checkoutSessionId: text('checkout_session_id').references(() => checkoutSessions.id),
    /** The host's metadata of a usage entry (string keys and values). */
    metadata: jsonb('metadata').$type<Record<string, string>>(),
    /** The Stripe charge's receipt, on purchase and auto-refill entries. */
    receiptUrl: text('receipt_url'),
    /**
     * The grants a debit took its credits from, in drawdown order (`[{grant_id, amount}]`);
     * null on a credit, whose grant names the entry instead.
     */
    draws: jsonb('draws').$type<GrantDraw[]>(),
    /**
     * What caused the entry, unique: `purchase:<cs_id>`, `refund:<ch_id>:<cumulative amount
     * refunded>`, `admin:<uuid>`, `usage:<usage record id>`, `hold:<hold id>`,
     * `auto_refill:<payment intent id>`, `expiration:<grant id>[:<hold id>]`,
     * `void:<grant id>[:<hold id>]`.
     * A second grant for the same source fails here, inside the transaction.
     */
    sourceRef: text('source_ref').notNull().unique(),
    createdAt: createdAt(),
  },
  (t) => [
    index('credit_ledger_org_seq_idx').on(t.orgId, t.seq),
    check(
      'credit_ledger_type_check',
      sql`${t.transactionType} in ('purchase', 'refund', 'usage', 'admin_adjustment', 'auto_refill', 'expiration', 'void')`,
    ),
    check('credit_ledger_balance_check', sql`${t.balanceAfter} >= 0`),
  ],
);

export const creditBalances = pgTable(
  'credit_balances',
  {
    orgId: uuid('org_id')
      .primaryKey()
      .references(() => organizations.id),
    balance: bigint('balance', { mode: 'number' }).notNull().default(0),
    /**
     * No later than the first moment something of the org's grants must be written off: the
     * soonest expiry of a grant not yet settled, or of a hold keeping credits of a settled one.
     * Every writer that finds it past settles the org first (under this row's lock), so an
     * expiration is always written before any later entry. Early is harmless; null: nothing due.
     */
    nextExpiryAt: timestamp('next_expiry_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check('credit_balances_nonnegative', sql`${t.balance} >= 0`)],
);

export const GRANT_CATEGORIES = ['paid', 'promotional'] as const;
export type GrantCategory = (typeof GRANT_CATEGORIES)[number];
export const GRANT_SOURCES = ['purchase', 'auto_refill', 'admin', 'migration'] as const;
export type GrantSource = (typeof GRANT_SOURCES)[number];

/** Credits a debit or a hold took from one grant. */
export interface GrantDraw {
  grant_id: string;
  amount: number;
}

/**
 * Every credit enters as a grant; debits draw from grants in drawdown order. `remaining`
 * includes what holds keep, and what expired but is not yet written off: Σ remaining over
 * an org's grants = its balance. A grant is made in the statement that writes its credit
 * entry, and `source_ref` (that entry's) is unique: a cause grants at most once.
 */
export const creditGrants = pgTable(
  'credit_grants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    remaining: bigint('remaining', { mode: 'number' }).notNull(),
    category: text('category').$type<GrantCategory>().notNull(),
    source: text('source').$type<GrantSource>().notNull(),
    sourceRef: text('source_ref').notNull().unique(),
    /** The credit entry that brought it in (null: the migration's opening grant). */
    ledgerEntryId: uuid('ledger_entry_id'),
    priority: integer('priority').notNull().default(50),
    effectiveAt: timestamp('effective_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    voidedAt: timestamp('voided_at', { withTimezone: true }),
    /**
     * When its expiry or void was written off: from then on, only what holds kept is left, and
     * it is written off as those holds give it back.
     */
    settledAt: timestamp('settled_at', { withTimezone: true }),
    /** When `credits.expiring` was sent for it (once per grant). */
    expiryNoticeAt: timestamp('expiry_notice_at', { withTimezone: true }),
    description: text('description'),
    metadata: jsonb('metadata').$type<Record<string, string>>(),
    createdAt: createdAt(),
  },
  (t) => [
    index('credit_grants_org_idx').on(t.orgId, t.createdAt),
    // Not `remaining > 0` in the predicate: every debit updates `remaining`, and a column in an
    // index (or its predicate) makes each update a new index entry rather than a HOT update.
    index('credit_grants_live_idx')
      .on(t.orgId)
      .where(sql`${t.settledAt} is null`),
    index('credit_grants_expiry_idx')
      .on(t.expiresAt)
      .where(sql`${t.settledAt} is null and ${t.expiresAt} is not null`),
    check('credit_grants_amount_check', sql`${t.amount} > 0`),
    check('credit_grants_remaining_check', sql`${t.remaining} >= 0 and ${t.remaining} <= ${t.amount}`),
    check('credit_grants_priority_check', sql`${t.priority} between 0 and 100`),
    check('credit_grants_category_check', sql`${t.category} in ('paid', 'promotional')`),
    check('credit_grants_source_check', sql`${t.source} in ('purchase', 'auto_refill', 'admin', 'migration')`),
    check('credit_grants_window_check', sql`${t.expiresAt} is null or ${t.expiresAt} > ${t.effectiveAt}`),
  ],
);

/** Every Stripe event id seen, and what became of it (an operator's audit trail). */
export const stripeEvents = pgTable('stripe_events', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  /** `processed`, `ignored`, or `failed_permanently` (kept for an operator, answered 2xx). */
  outcome: text('outcome').notNull(),
  detail: text('detail'),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
});

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: uuid('user_id').notNull(),
    orgId: uuid('org_id').notNull(),
    key: text('key').notNull(),
    /** SHA-256 of the canonical request body: same key + other body is a conflict. */
    requestHash: text('request_hash').notNull(),
    /** `in_progress` until the first answer is stored, then `completed`. */
    state: text('state').notNull(),
    responseStatus: integer('response_status'),
    responseBody: jsonb('response_body'),
    createdAt: createdAt(),
    /** An `in_progress` row older than this belongs to a crashed request and may be taken over. */
    lockedUntil: timestamp('locked_until', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.orgId, t.key] }), index('idempotency_keys_expires_idx').on(t.expiresAt)],
);

/**
 * One row per usage idempotency key of an org (whoever sent it), kept 30 days: the primary
 * key is what stops a second debit for one key, and the first answer is replayed from it.
 */
export const usageRecords = pgTable(
  'usage_records',
  {
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    idempotencyKey: text('idempotency_key').notNull(),
    /** Names the ledger entry (`usage:<id>`), so a key reused after 30 days is a new source. */
    id: uuid('id').notNull().unique().defaultRandom(),
    /** SHA-256 of the canonical request: the same key with another body is a conflict. */
    requestHash: text('request_hash').notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    debited: bigint('debited', { mode: 'number' }).notNull(),
    /** The ledger entry; null when `allow_partial` found nothing to debit. */
    ledgerEntryId: uuid('ledger_entry_id'),
    balanceAfter: bigint('balance_after', { mode: 'number' }).notNull(),
    /** The first answer, replayed as it was. */
    response: jsonb('response').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.idempotencyKey] }),
    index('usage_records_expires_idx').on(t.expiresAt),
    check('usage_records_debited_check', sql`${t.debited} >= 0 and ${t.debited} <= ${t.amount}`),
  ],
);

export const HOLD_STATUSES = ['active', 'captured', 'released', 'expired'] as const;
export type HoldStatus = (typeof HOLD_STATUSES)[number];

/**
 * Credits reserved before work runs. An active hold counts against `available_balance`
 * until its `expires_at`, whether or not a sweeper has marked it `expired`.
 */
export const creditHolds = pgTable(
  'credit_holds',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    status: text('status').$type<HoldStatus>().notNull().default('active'),
    capturedAmount: bigint('captured_amount', { mode: 'number' }),
    description: text('description'),
    metadata: jsonb('metadata').$type<Record<string, string>>(),
    /** The capture's `usage` entry. */
    ledgerEntryId: uuid('ledger_entry_id'),
    /**
     * The grants it drew from when made, in drawdown order: its credits belong to it until
     * it ends (a capture spends them in this order; the rest goes back).
     */
    draws: jsonb('draws').$type<GrantDraw[]>().notNull().default([]),
    /**
     * Grants written off (expired or voided) while this hold kept credits of them: what it gives
     * back to those is written off when it ends (`expiration|void:<grant id>:<hold id>`).
     */
    kept: jsonb('kept').$type<string[]>().notNull().default([]),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    capturedAt: timestamp('captured_at', { withTimezone: true }),
    releasedAt: timestamp('released_at', { withTimezone: true }),
  },
  (t) => [
    index('credit_holds_org_idx').on(t.orgId, t.createdAt),
    index('credit_holds_active_idx')
      .on(t.orgId, t.expiresAt)
      .where(sql`${t.status} = 'active'`),
    check('credit_holds_amount_check', sql`${t.amount} > 0`),
    check('credit_holds_status_check', sql`${t.status} in ('active', 'captured', 'released', 'expired')`),
    check(
      'credit_holds_captured_check',
      sql`${t.capturedAmount} is null or (${t.capturedAmount} > 0 and ${t.capturedAmount} <= ${t.amount})`,
    ),
  ],
);

/** An org's auto-refill settings and its saved card's display fields. */
export const autoRefillSettings = pgTable(
  'auto_refill_settings',
  {
    orgId: uuid('org_id')
      .primaryKey()
      .references(() => organizations.id),
    enabled: boolean('enabled').notNull().default(false),
    threshold: bigint('threshold', { mode: 'number' }).notNull().default(0),
    quantity: integer('quantity').notNull().default(1),
    monthlyLimit: integer('monthly_limit').notNull().default(5),
    /** The saved card (`pm_…`), the customer's default payment method at Stripe. */
    paymentMethodId: text('payment_method_id'),
    cardBrand: text('card_brand'),
    cardLast4: text('card_last4'),
    cardExpMonth: integer('card_exp_month'),
    cardExpYear: integer('card_exp_year'),
    lastFailureAt: timestamp('last_failure_at', { withTimezone: true }),
    lastFailureCode: text('last_failure_code'),
    lastFailureMessage: text('last_failure_message'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('auto_refill_settings_threshold_check', sql`${t.threshold} >= 0`),
    check('auto_refill_settings_quantity_check', sql`${t.quantity} between 1 and 10`),
    check('auto_refill_settings_limit_check', sql`${t.monthlyLimit} between 1 and 100`),
  ],
);

export const AUTO_REFILL_STATUSES = ['pending', 'processing', 'succeeded', 'failed'] as const;
export type AutoRefillStatus = (typeof AUTO_REFILL_STATUSES)[number];

/** One row per auto-refill attempt. At most one is in flight per org: a unique index. */
export const autoRefills = pgTable(
  'auto_refills',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    status: text('status').$type<AutoRefillStatus>().notNull().default('pending'),
    bundles: integer('bundles').notNull(),
    credits: bigint('credits', { mode: 'number' }).notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    stripePaymentIntentId: text('stripe_payment_intent_id').unique(),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    /**
     * Credits of this refill's refunds already settled: debited, or forgiven because the org
     * had spent them (as `checkout_sessions.refund_settled_credits`). A later refund of the
     * same charge owes only what is beyond this, so a forgiven shortfall is never collected.
     */
    refundSettledCredits: bigint('refund_settled_credits', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('auto_refills_org_idx').on(t.orgId, t.createdAt),
    uniqueIndex('auto_refills_one_in_flight_idx')
      .on(t.orgId)
      .where(sql`${t.status} in ('pending', 'processing')`),
    check('auto_refills_status_check', sql`${t.status} in ('pending', 'processing', 'succeeded', 'failed')`),
  ],
);

export const NOTIFICATION_EVENT_TYPES = [
  'credits.purchased',
  'credits.refunded',
  'credits.low_balance',
  'credits.depleted',
  'credits.expiring',
  'credits.expired',
  'auto_refill.succeeded',
  'auto_refill.failed',
] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];

/** Where the host backend receives events (`npm run cli -- notify add`). */
export const notificationEndpoints = pgTable('notification_endpoints', {
  id: uuid('id').primaryKey().defaultRandom(),
  url: text('url').notNull(),
  /** The event types it receives; null: every type. */
  events: text('events').array().$type<NotificationEventType[]>(),
  /**
   * The signing secret, encrypted (AES-256-GCM under NOTIFY_ENCRYPTION_KEY): we must
   * sign with it, so unlike an API key it cannot be kept as a hash.
   */
  secretCiphertext: text('secret_ciphertext').notNull(),
  createdAt: createdAt(),
  /** Removed endpoints are kept for the deliveries that name them; nothing more is sent. */
  removedAt: timestamp('removed_at', { withTimezone: true }),
});

/** The outbox: each event written in the transaction of the change it reports. */
export const notificationEvents = pgTable(
  'notification_events',
  {
    /** `evt_…` */
    id: text('id').primaryKey(),
    type: text('type').$type<NotificationEventType>().notNull(),
    orgId: uuid('org_id')
      .notNull()
      .references(() => organizations.id),
    /** The event's `data`. */
    data: jsonb('data').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('notification_events_org_idx').on(t.orgId, t.createdAt)],
);

export const DELIVERY_STATUSES = ['scheduled', 'sending', 'succeeded', 'failed', 'given_up', 'cancelled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One row per attempt to deliver one event to one endpoint: what `notify deliveries` shows. */
export const notificationDeliveries = pgTable(
  'notification_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => notificationEndpoints.id),
    eventId: text('event_id')
      .notNull()
      .references(() => notificationEvents.id),
    attempt: integer('attempt').notNull(),
    /**
     * `scheduled` → `sending` → `succeeded`, or `failed` (another attempt follows) or
     * `given_up` (none follows); `cancelled` when its endpoint was removed first.
     */
    status: text('status').$type<DeliveryStatus>().notNull().default('scheduled'),
    responseCode: integer('response_code'),
    error: text('error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    /** While `sending`: past this, the sender is presumed dead and the attempt may be taken again. */
    claimedUntil: timestamp('claimed_until', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    unique('notification_deliveries_attempt_key').on(t.eventId, t.endpointId, t.attempt),
    index('notification_deliveries_created_idx').on(t.createdAt),
    check(
      'notification_deliveries_status_check',
      sql`${t.status} in ('scheduled', 'sending', 'succeeded', 'failed', 'given_up', 'cancelled')`,
    ),
  ],
);
