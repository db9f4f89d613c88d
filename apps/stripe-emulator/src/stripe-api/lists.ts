/** Stripe's list endpoints: newest first, `limit` / `starting_after` / `ending_before` pages, `created` ranges. */
import type { FormObject, FormValue } from './form-encoding';
import { isObject, optionalInteger, optionalString, rejectUnknown } from './params';
import { invalidParam } from './stripe-errors';

/** `limit` (1–100, default 10) and `starting_after` for list endpoints. */
export function paginate<T extends { id: string }>(
  items: T[],
  params: FormObject,
  url: string,
): { object: 'list'; data: T[]; has_more: boolean; url: string } {
  const limit = optionalInteger(params, 'limit', 'limit', 1, 100) ?? 10;
  const startingAfter = optionalString(params, 'starting_after');
  const endingBefore = optionalString(params, 'ending_before');
  let start = 0;
  let end = items.length;
  if (startingAfter) {
    const index = items.findIndex((i) => i.id === startingAfter);
    if (index < 0) throw invalidParam('starting_after', `No such object: '${startingAfter}'`, 'resource_missing');
    start = index + 1;
  } else if (endingBefore) {
    const index = items.findIndex((i) => i.id === endingBefore);
    if (index < 0) throw invalidParam('ending_before', `No such object: '${endingBefore}'`, 'resource_missing');
    end = index;
    start = Math.max(0, end - limit);
  }
  const data = items.slice(start, Math.min(end, start + limit));
  return { object: 'list', data, has_more: start + data.length < end, url };
}

const RANGE_BOUNDS = new Set(['gt', 'gte', 'lt', 'lte']);

/**
 * Stripe's `created` list filter: a unix timestamp (equal to it), or a range
 * `created[gt|gte|lt|lte]`. Answers the test for one object's `created`.
 */
export function createdFilter(value: FormValue | undefined): (created: number) => boolean {
  if (value === undefined || value === '') return () => true;
  if (typeof value === 'string') {
    const exact = optionalInteger({ created: value }, 'created');
    return (created) => created === exact;
  }
  if (!isObject(value)) throw invalidParam('created', 'Invalid timestamp: created must be an integer or a range.');
  rejectUnknown(value, RANGE_BOUNDS, 'created');
  const bound = (key: string) => optionalInteger(value, key, `created[${key}]`);
  const [gt, gte, lt, lte] = [bound('gt'), bound('gte'), bound('lt'), bound('lte')];
  return (created) =>
    (gt === undefined || created > gt) &&
    (gte === undefined || created >= gte) &&
    (lt === undefined || created < lt) &&
    (lte === undefined || created <= lte);
}

/** Newest first, as Stripe lists. */
export function newestFirst<T>(values: Iterable<T>): T[] {
  return [...values].reverse();
}
