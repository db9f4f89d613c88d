import { alternate, routeSides, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { checkoutLoad, creditsPath } from '../requests';
import type { Stack } from '../stack';

/** `POST …/credits/checkout` answered 200, against floors making the same Stripe call. */
export async function checkoutScenario(stack: Stack, rounds: Rounds): Promise<Row> {
  const comparison = await alternate(
    routeSides(stack, `${creditsPath(stack.seeded.orgSlug)}/checkout`, '/checkout', (url, path) =>
      checkoutLoad(url, path, stack.seeded.key),
    ),
    rounds,
    logRound('checkout 200'),
  );
  return compareRow('checkout 200', comparison, OUR_COST_TARGET);
}
