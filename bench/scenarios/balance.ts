import { alternate, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { authHeaders, creditsPath } from '../requests';
import type { Stack } from '../stack';

/** `GET …/credits`, against floors reading the balance (bare: one SELECT; same work: auth too). */
export async function balanceScenario(
  { api, floor, nestFloor, baseline, seeded }: Stack,
  rounds: Rounds,
): Promise<Row> {
  const spec = (url: string, path: string): LoadSpec => ({
    url,
    expect: [200],
    requests: [{ method: 'GET', path, headers: authHeaders(seeded.key) }],
  });
  const comparison = await alternate(
    {
      measured: spec(api.url, creditsPath(seeded.orgSlug)),
      floor: spec(floor.url, '/balance'),
      sameWork: spec(floor.url, '/same/balance'),
      nestFloor: spec(nestFloor.url, '/balance'),
      nestSameWork: spec(nestFloor.url, '/same/balance'),
      baseline: baseline && spec(baseline.url, creditsPath(seeded.orgSlug)),
    },
    rounds,
    logRound('balance'),
  );
  return compareRow('balance', comparison, OUR_COST_TARGET);
}
