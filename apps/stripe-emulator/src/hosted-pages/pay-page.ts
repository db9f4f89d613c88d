/** The hosted Checkout page: what is bought, and Pay / Cancel buttons that redirect like Checkout. */
import type { CheckoutSession } from '../checkout-sessions/checkout-session';
import { expireIfDue, paySession } from '../checkout-sessions/session-lifecycle';
import type { Context } from '../context';
import { TEST_CARDS } from '../payment-methods/test-cards';
import { formatAmount } from '../stripe-api/currencies';
import type { FormError, FormObject } from '../stripe-api/form-encoding';
import { StripeHttpError } from '../stripe-api/stripe-errors';
import { escapeHtml, messagePage, page, type PageResult } from './page-layout';

function redirect(location: string): PageResult {
  return {
    status: 303,
    headers: { location, 'cache-control': 'no-store', 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><title>Redirecting</title><p>Redirecting to <a href="${escapeHtml(location)}">${escapeHtml(location)}</a></p>`,
  };
}

function notFound(id: string): PageResult {
  return messagePage(404, 'Checkout session not found', `There is no Checkout Session with id ${id}.`);
}

function notOpen(session: CheckoutSession): PageResult {
  const text =
    session.status === 'complete'
      ? 'This Checkout Session is already complete: it has been paid, or the payment is being processed.'
      : 'This Checkout Session has expired. Start a new purchase to pay.';
  return messagePage(
    410,
    session.status === 'complete' ? 'Payment already completed' : 'Checkout session expired',
    text,
  );
}

function renderSession(ctx: Context, session: CheckoutSession, declined?: string, status = 200): PageResult {
  const items = ctx.store.sessionExtras.get(session.id)?.lineItems ?? [];
  const rows: string[] = [];
  for (const item of items) {
    rows.push(`<dt>Product</dt><dd>${escapeHtml(item.description || 'Item')}</dd>`);
    rows.push(`<dt>Bundles</dt><dd>${item.quantity}</dd>`);
    rows.push(`<dt>Unit price</dt><dd>${escapeHtml(formatAmount(item.price.unit_amount, item.currency))}</dd>`);
  }
  const credits = session.metadata.credits;
  if (credits !== undefined) rows.push(`<dt>Credits</dt><dd>${escapeHtml(credits)}</dd>`);
  const total = formatAmount(session.amount_total, session.currency);
  rows.push(`<dt class="total">Total</dt><dd class="total" id="total">${escapeHtml(total)}</dd>`);
  const base = `/pay/${encodeURIComponent(session.id)}`;
  const options = TEST_CARDS.map(
    (c) => `<option value="${escapeHtml(c.token)}">${escapeHtml(`${c.label} ···· ${c.last4}`)}</option>`,
  ).join('');
  const error = declined ? `<p class="error" role="alert" id="card-error">${escapeHtml(declined)}</p>\n` : '';
  return page(
    status,
    `Pay ${total}`,
    `<h1 id="title">Pay ${escapeHtml(total)}</h1>
<dl aria-labelledby="title">
${rows.join('\n')}
</dl>
${error}<div class="actions">
<form method="post" action="${base}/pay"><label for="payment_method">Test card</label><select id="payment_method" name="payment_method">${options}</select><button type="submit" id="pay">Pay ${escapeHtml(total)}</button></form>
<form method="post" action="${base}/cancel"><button type="submit" id="cancel">Cancel</button></form>
</div>`,
  );
}

/**
 * `GET /pay/{id}`, `POST /pay/{id}/pay` (form field `payment_method`: a `pm_card_*` test card,
 * default visa), `POST /pay/{id}/cancel`; null when the path is not a pay-page path.
 */
export function handlePayPage(
  ctx: Context,
  method: string,
  path: string,
  form: FormObject | FormError = {},
): PageResult | null {
  const match = /^\/pay\/([^/]+)(?:\/(pay|cancel))?\/?$/.exec(path);
  if (!match) return null;
  const id = decodeURIComponent(match[1]);
  const action = match[2];
  if (action ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') {
    return {
      ...messagePage(405, 'Method not allowed', `${method} is not allowed here.`),
      headers: { allow: action ? 'POST' : 'GET' },
    };
  }
  const session = ctx.store.sessions.get(id);
  if (!session) return notFound(id);
  expireIfDue(ctx, session);
  if (session.status !== 'open') return notOpen(session);
  if (!action) return renderSession(ctx, session);
  if (action === 'cancel') {
    // Stripe fills {CHECKOUT_SESSION_ID} in success_url only; cancel_url is used as given.
    if (session.cancel_url) return redirect(session.cancel_url);
    return messagePage(200, 'Checkout cancelled', 'You cancelled the payment. You can close this page.');
  }
  const chosen = 'payment_method' in form && typeof form.payment_method === 'string' ? form.payment_method : undefined;
  try {
    paySession(ctx, id, { paymentMethod: chosen });
  } catch (err) {
    // Like Checkout: the card's decline shows on the page, which stays open for another card.
    if (!(err instanceof StripeHttpError)) throw err;
    if (err.body.type === 'card_error') return renderSession(ctx, session, err.message, err.status);
    return messagePage(err.status, 'Payment not possible', err.message);
  }
  return redirect(session.success_url.split('{CHECKOUT_SESSION_ID}').join(session.id));
}
