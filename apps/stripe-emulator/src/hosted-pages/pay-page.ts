import type { Context } from '../context';
import { CardDeclinedError, expireIfDue, FlowError, paySession } from '../flows';
import type { CheckoutSession } from '../objects';
import { TEST_CARDS } from '../payment-methods/test-cards';
import { formatAmount } from '../stripe-api/currencies';
import type { FormError, FormObject } from '../stripe-api/form-encoding';

/** The hosted Checkout page: what is bought, and Pay / Cancel buttons that redirect like Checkout. */
export interface PageResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  :root { color-scheme: light dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: Canvas; color: CanvasText; }
  main { max-width: 28rem; margin: 3rem auto; padding: 1.5rem 2rem; border: 1px solid #8884; border-radius: 12px; }
  .badge { display: inline-block; padding: .1rem .5rem; border-radius: 4px; background: #ffb100; color: #000; font-size: .8rem; font-weight: 600; }
  h1 { font-size: 1.4rem; margin: .8rem 0; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .4rem 1rem; margin: 1rem 0 1.5rem; }
  dt { font-weight: 600; } dd { margin: 0; text-align: right; }
  .total { font-size: 1.2rem; }
  .actions { display: flex; gap: .75rem; }
  .actions form { flex: 1; margin: 0; }
  button { width: 100%; padding: .75rem; font-size: 1rem; border-radius: 8px; border: 1px solid #8886; cursor: pointer; }
  button:focus-visible { outline: 3px solid #635bff; outline-offset: 2px; }
  #pay { background: #635bff; color: #fff; border-color: #635bff; }
  #cancel { background: transparent; color: inherit; }
  label { display: block; font-weight: 600; margin-bottom: .3rem; }
  select { width: 100%; padding: .5rem; font-size: 1rem; border-radius: 8px; margin-bottom: 1rem; }
  .error { color: #d93025; font-weight: 600; }
`;

export function page(status: number, title: string, content: string): PageResult {
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<span class="badge" role="note">Test mode (Stripe emulator)</span>
${content}
</main>
</body>
</html>
`;
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
    },
    body,
  };
}

function redirect(location: string): PageResult {
  return {
    status: 303,
    headers: { location, 'cache-control': 'no-store', 'content-type': 'text/html; charset=utf-8' },
    body: `<!doctype html><title>Redirecting</title><p>Redirecting to <a href="${escapeHtml(location)}">${escapeHtml(location)}</a></p>`,
  };
}

export function messagePage(status: number, title: string, message: string): PageResult {
  return page(status, title, `<h1>${escapeHtml(title)}</h1>\n<p role="status">${escapeHtml(message)}</p>`);
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
    if (err instanceof CardDeclinedError) return renderSession(ctx, session, err.message, 402);
    if (err instanceof FlowError) return messagePage(err.status, 'Payment not possible', err.message);
    throw err;
  }
  return redirect(session.success_url.split('{CHECKOUT_SESSION_ID}').join(session.id));
}
