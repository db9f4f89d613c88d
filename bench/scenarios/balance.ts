import { alternate, routeSides, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { authHeaders, creditsPath } from '../requests';
import type { Stack } from '../stack';

/** `GET …/credits`, against floors reading the balance (bare: one SELECT; same work: auth too). */
export async function balanceScenario(stack: Stack, rounds: Rounds): Promise<Row> {
  const spec = (url: string, path: string): LoadSpec => ({
    url,
    expect: [200],
    requests: [{ method: 'GET', path, headers: authHeaders(stack.seeded.key) }],
  });
  const comparison = await alternate(
    routeSides(stack, creditsPath(stack.seeded.orgSlug), '/balance', spec),
    rounds,
    logRound('balance'),
  );
  return compareRow('balance', comparison, OUR_COST_TARGET);
}
