import { alternate, routeSides, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { authHeaders, creditsPath, INVALID_BODY } from '../requests';
import type { Stack } from '../stack';

/** The same route answering 422 (`quantity: 11`), against floors answering the same 422 JSON. */
export async function invalidScenario(stack: Stack, rounds: Rounds): Promise<Row> {
  const spec = (url: string, path: string): LoadSpec => ({
    url,
    expect: [422],
    requests: [
      {
        method: 'POST',
        path,
        headers: { ...authHeaders(stack.seeded.key), 'content-type': 'application/json' },
        body: INVALID_BODY,
      },
    ],
  });
  const comparison = await alternate(
    routeSides(stack, `${creditsPath(stack.seeded.orgSlug)}/checkout`, '/invalid', spec),
    rounds,
    logRound('checkout 422'),
  );
  return compareRow('checkout 422', comparison, OUR_COST_TARGET);
}
