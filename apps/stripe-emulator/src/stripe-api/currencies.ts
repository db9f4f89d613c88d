/** Currency helpers: Stripe's zero- and three-decimal currencies, minimum charge amounts. */
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** The largest amount Stripe takes for a price or a Checkout Session's total (smallest unit). */
export const MAX_AMOUNT = 99_999_999;

/** Stripe's minimum charge amounts (smallest unit) for common currencies; others are not checked. */
const MINIMUMS: Record<string, number> = {
  usd: 50,
  eur: 50,
  gbp: 30,
  cad: 50,
  aud: 50,
  chf: 50,
  nzd: 50,
  sgd: 50,
  hkd: 400,
  jpy: 50,
  sek: 300,
  nok: 300,
  dkk: 250,
};

export function minorDigits(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  if (THREE_DECIMAL.has(currency)) return 3;
  return 2;
}

export function minimumChargeAmount(currency: string): number | undefined {
  return MINIMUMS[currency];
}

/** `1999, 'usd'` -> `$19.99`. */
export function formatAmount(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  const value = amount / 10 ** digits;
  try {
    return new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency: currency.toUpperCase(),
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(value);
  } catch {
    return `${value.toFixed(digits)} ${currency.toUpperCase()}`;
  }
}
