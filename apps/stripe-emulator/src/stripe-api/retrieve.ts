import { ok, type ApiHandler } from '../context';
import type { Store } from '../store';
import { expandObject } from './expand';
import { noSuch } from './stripe-errors';

/** The object stored under `id`, or Stripe's 404 for it (`No such customer: 'cus_x'`). */
export function stored<T>(objects: ReadonlyMap<string, T>, kind: string, id: string): T {
  const object = objects.get(id);
  if (!object) throw noSuch(kind, id);
  return object;
}

/** `GET /v1/<objects>/:id`: the stored object, expanded as `expand[]` asks. */
export function retrieve<T extends object>(
  kind: string,
  objects: (store: Store) => ReadonlyMap<string, T>,
): ApiHandler {
  return (ctx, req, { id }) => ok(expandObject(ctx, stored(objects(ctx.store), kind, id), req.params));
}
