import type { GrantCategory, GrantDraw } from '@credits/database';

/** A grant in effect, with what of it is spendable now (its remaining less what holds keep). */
export interface SpendableGrant {
  id: string;
  available: number;
  priority: number;
  /** null: never expires. */
  expiresAt: Date | null;
  category: GrantCategory;
  effectiveAt: Date;
}

/**
 * The drawdown order (DESIGN §1.4): lower priority first, then the soonest expiry (never
 * last), then promotional before paid, then the oldest, then the id (so two instances agree).
 */
export function drawdownOrder(a: SpendableGrant, b: SpendableGrant): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const aExpiry = a.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  const bExpiry = b.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
  if (aExpiry !== bExpiry) return aExpiry < bExpiry ? -1 : 1;
  if (a.category !== b.category) return a.category === 'promotional' ? -1 : 1;
  const effective = a.effectiveAt.getTime() - b.effectiveAt.getTime();
  if (effective !== 0) return effective;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * One org's spendable grants inside a transaction that holds its balance lock: every draw
 * lowers what is left, so the debits of one group draw one after another, each in order.
 */
export class GrantBook {
  private readonly grants: SpendableGrant[];

  constructor(grants: SpendableGrant[]) {
    this.grants = grants.filter((grant) => grant.available > 0).sort(drawdownOrder);
  }

  /** Σ spendable: the org's available balance before holds made in this transaction. */
  get available(): number {
    return this.grants.reduce((sum, grant) => sum + grant.available, 0);
  }

  /**
   * Takes `amount` in drawdown order, `first` (a grant id) before the others; answers the
   * draws, or undefined (nothing taken) when the grants cannot cover it.
   */
  draw(amount: number, first?: string): GrantDraw[] | undefined {
    if (amount > this.available) return undefined;
    const order = first
      ? [...this.grants].sort((a, b) => Number(b.id === first) - Number(a.id === first))
      : this.grants;
    const draws: GrantDraw[] = [];
    let left = amount;
    for (const grant of order) {
      if (left === 0) break;
      const take = Math.min(left, grant.available);
      if (take === 0) continue;
      grant.available -= take;
      left -= take;
      draws.push({ grant_id: grant.id, amount: take });
    }
    return draws;
  }
}

/**
 * A capture of `amount` out of a hold's draws spends them in the order they were drawn; the
 * rest of each goes back to its grant.
 */
export function splitCapture(draws: GrantDraw[], amount: number): { spent: GrantDraw[]; returned: GrantDraw[] } {
  const spent: GrantDraw[] = [];
  const returned: GrantDraw[] = [];
  let left = amount;
  for (const draw of draws) {
    const take = Math.min(left, draw.amount);
    left -= take;
    if (take > 0) spent.push({ grant_id: draw.grant_id, amount: take });
    if (draw.amount > take) returned.push({ grant_id: draw.grant_id, amount: draw.amount - take });
  }
  return { spent, returned };
}
