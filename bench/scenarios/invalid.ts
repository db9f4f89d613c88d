import { alternate, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { authHeaders, creditsPath, INVALID_BODY } from '../requests';
import type { Service } from '../processes';
import type { Stack } from '../stack';

/** The same route answering 422 (`quantity: 11`), against floors answering the same 422 JSON. */
export async function invalidScenario(
  { api, floor, nestFloor, baseline, seeded }: Stack,
  rounds: Rounds,
): Promise<Row> {
  const spec = ({ url, child }: Service, path: string): LoadSpec => ({
    url,
    pid: child.pid,
    expect: [422],
    requests: [
      {
        method: 'POST',
        path,
        headers: { ...authHeaders(seeded.key), 'content-type': 'application/json' },
        body: INVALID_BODY,
      },
    ],
  });
  const comparison = await alternate(
    {
      measured: spec(api, `${creditsPath(seeded.orgSlug)}/checkout`),
      floor: spec(floor, '/invalid'),
      sameWork: spec(floor, '/same/invalid'),
      nestFloor: spec(nestFloor, '/invalid'),
      nestSameWork: spec(nestFloor, '/same/invalid'),
      baseline: baseline && spec(baseline, `${creditsPath(seeded.orgSlug)}/checkout`),
    },
    rounds,
    logRound('checkout 422'),
  );
  return compareRow('checkout 422', comparison, OUR_COST_TARGET);
}
