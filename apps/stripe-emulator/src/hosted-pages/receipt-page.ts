import type { Context } from '../context';
import { formatAmount } from '../stripe-api/currencies';
import { escapeHtml, messagePage, page, type PageResult } from './page-layout';

/** `GET /receipts/{charge id}`: the page a charge's `receipt_url` points at, like Stripe's emailed receipt. */
export function handleReceiptPage(ctx: Context, method: string, path: string): PageResult | null {
  const match = /^\/receipts\/([^/]+)\/?$/.exec(path);
  if (!match) return null;
  if (method !== 'GET' && method !== 'HEAD') {
    return { ...messagePage(405, 'Method not allowed', `${method} is not allowed here.`), headers: { allow: 'GET' } };
  }
  const id = decodeURIComponent(match[1]);
  const charge = ctx.store.charges.get(id);
  if (!charge) return messagePage(404, 'Receipt not found', `There is no charge with id ${id}.`);
  const details = charge.payment_method_details;
  const card = details && 'card' in details ? (details.card as { brand?: string; last4?: string }) : undefined;
  const rows = [
    `<dt>Amount paid</dt><dd id="amount">${escapeHtml(formatAmount(charge.amount, charge.currency))}</dd>`,
    `<dt>Date paid</dt><dd>${escapeHtml(new Date(charge.created * 1000).toISOString().slice(0, 10))}</dd>`,
    `<dt>Status</dt><dd id="status">${escapeHtml(charge.status)}</dd>`,
  ];
  if (card?.last4)
    rows.push(`<dt>Payment method</dt><dd>${escapeHtml(`${card.brand ?? 'card'} ···· ${card.last4}`)}</dd>`);
  if (charge.amount_refunded > 0) {
    rows.push(
      `<dt>Refunded</dt><dd id="refunded">${escapeHtml(formatAmount(charge.amount_refunded, charge.currency))}</dd>`,
    );
  }
  if (charge.description) rows.push(`<dt>Description</dt><dd>${escapeHtml(charge.description)}</dd>`);
  rows.push(`<dt>Receipt</dt><dd>${escapeHtml(charge.id)}</dd>`);
  return page(
    200,
    `Receipt ${charge.id}`,
    `<h1 id="title">Receipt</h1>\n<dl aria-labelledby="title">\n${rows.join('\n')}\n</dl>`,
  );
}
