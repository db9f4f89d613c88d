/**
 * Stripe's test payment methods (`pm_card_*` shortcuts) and what charging each one does.
 * https://docs.stripe.com/testing — the numbers, brands and outcomes are Stripe's.
 */
export interface CardDecline {
  /** `error.code`: `card_declined`, `expired_card`, `authentication_required`. */
  code: string;
  decline_code: string;
  message: string;
  /** Stripe names the field at fault for some declines (`exp_month` for an expired card). */
  param?: string;
}

/**
 * - `succeed`: the charge succeeds;
 * - `decline`: every charge is declined;
 * - `authenticate`: 3-D Secure on every charge — an on-session payment asks for it
 *   (`requires_action`; the hosted page stands for the customer completing it), an
 *   off-session one is declined with `authentication_required`;
 * - `decline_after_attach`: paying at checkout (saving the card) succeeds, every PaymentIntent
 *   charge after it is declined — Stripe's `pm_card_chargeCustomerFail` (attaching succeeds,
 *   charging the customer fails);
 * - `processing`: the emulator's own — the payment stays `processing` until a control settles it.
 */
export type CardBehaviour =
  | { kind: 'succeed' }
  | { kind: 'decline'; decline: CardDecline }
  | { kind: 'authenticate'; decline: CardDecline }
  | { kind: 'decline_after_attach'; decline: CardDecline }
  | { kind: 'processing' };

export interface TestCard {
  token: string;
  label: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  funding: 'credit' | 'debit';
  country: string;
  behaviour: CardBehaviour;
}

const GENERIC: CardDecline = {
  code: 'card_declined',
  decline_code: 'generic_decline',
  message: 'Your card was declined.',
};

/** Years ahead of now, as Stripe's test cards never expire. */
const EXP_YEAR = new Date().getUTCFullYear() + 3;

function card(token: string, label: string, last4: string, behaviour: CardBehaviour): TestCard {
  return {
    token,
    label,
    brand: 'visa',
    last4,
    exp_month: 12,
    exp_year: EXP_YEAR,
    funding: 'credit',
    country: 'US',
    behaviour,
  };
}

export const TEST_CARDS: readonly TestCard[] = [
  card('pm_card_visa', 'Visa — succeeds', '4242', { kind: 'succeed' }),
  card('pm_card_chargeDeclined', 'Declined (generic_decline)', '0002', { kind: 'decline', decline: GENERIC }),
  card('pm_card_chargeDeclinedInsufficientFunds', 'Declined (insufficient_funds)', '9995', {
    kind: 'decline',
    decline: {
      code: 'card_declined',
      decline_code: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    },
  }),
  card('pm_card_chargeDeclinedExpiredCard', 'Declined (expired_card)', '0069', {
    kind: 'decline',
    decline: {
      code: 'expired_card',
      decline_code: 'expired_card',
      message: 'Your card has expired.',
      param: 'exp_month',
    },
  }),
  card('pm_card_authenticationRequired', 'Always requires authentication (3-D Secure)', '3184', {
    kind: 'authenticate',
    decline: {
      code: 'authentication_required',
      decline_code: 'authentication_required',
      message: 'Your card was declined. This transaction requires authentication.',
    },
  }),
  card('pm_card_chargeCustomerFail', 'Saves fine, later charges declined', '0341', {
    kind: 'decline_after_attach',
    decline: GENERIC,
  }),
  card('pm_card_processing', 'Stays processing until settled (emulator only)', '1117', { kind: 'processing' }),
];

const BY_TOKEN = new Map(TEST_CARDS.map((c) => [c.token, c]));

export function testCard(token: string): TestCard | undefined {
  return BY_TOKEN.get(token);
}

/** What a charge on `card` does: on-session (a customer at the page) or off-session (saved card, no customer). */
export function chargeOutcome(
  card: TestCard,
  opts: { offSession: boolean; checkout: boolean },
):
  | { kind: 'succeed' }
  | { kind: 'processing' }
  | { kind: 'requires_action' }
  | { kind: 'decline'; decline: CardDecline } {
  const b = card.behaviour;
  if (b.kind === 'succeed' || b.kind === 'processing') return b;
  if (b.kind === 'decline') return b;
  if (b.kind === 'decline_after_attach')
    return opts.checkout ? { kind: 'succeed' } : { kind: 'decline', decline: b.decline };
  return opts.offSession ? { kind: 'decline', decline: b.decline } : { kind: 'requires_action' };
}
