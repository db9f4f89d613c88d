import type { Context } from '../context';
import type { FormObject } from './form-encoding';
import { invalidParam } from './stripe-errors';

/**
 * Applies `expand[]=a.b` to a copy of `object`: each segment names a field that
 * holds an id, replaced by the stored object. Fields that cannot be expanded
 * answer 400 like Stripe does. `special` handles fields that are not ids
 * (e.g. a session's `line_items`).
 */
export function expandObject<T extends object>(
  ctx: Context,
  object: T,
  params: FormObject,
  special: Record<string, () => unknown> = {},
): T {
  const paths = expandList(params);
  if (paths.length === 0) return object;
  const copy = structuredClone(object) as Record<string, unknown>;
  for (const path of paths) {
    const [head, ...rest] = path.split('.');
    if (!head) throw invalidParam('expand', `This property cannot be expanded (${path}).`);
    if (special[head]) {
      copy[head] = special[head]();
      continue;
    }
    let target: Record<string, unknown> = copy;
    const segments = [head, ...rest];
    for (let i = 0; i < segments.length; i++) {
      const field = segments[i];
      const value = target[field];
      if (value === null) break;
      if (typeof value === 'string') {
        const found = ctx.store.byId(value);
        if (!found) break;
        target[field] = structuredClone(found);
      } else if (!value || typeof value !== 'object') {
        throw invalidParam('expand', `This property cannot be expanded (${segments.slice(0, i + 1).join('.')}).`);
      }
      target = target[field] as Record<string, unknown>;
    }
  }
  return copy as T;
}

/** `expand[]=a&expand[]=b.c` (or `expand[0]=…`) as a list of paths. */
function expandList(params: FormObject): string[] {
  const value = params.expand;
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item !== 'string') throw invalidParam('expand', 'Invalid array: expand must be a list of strings.');
    out.push(item);
  }
  return out;
}
