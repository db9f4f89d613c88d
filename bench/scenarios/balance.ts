import { alternate, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { authHeaders, creditsPath } from '../requests';
import type { Service } from '../processes';
import type { Stack } from '../stack';

/** `GET …/credits`, against floors reading the balance (bare: one SELECT; same work: auth too). */
export async function balanceScenario(
  { api, floor, nestFloor, baseline, seeded }: Stack,
  rounds: Rounds,
): Promise<Row> {
  const spec = ({ url, child }: Service, path: string): LoadSpec => ({
    url,
    pid: child.pid,
    expect: [200],
    requests: [{ method: 'GET', path, headers: authHeaders(seeded.key) }],
  });
  const comparison = await alternate(
    {
      measured: spec(api, creditsPath(seeded.orgSlug)),
      floor: spec(floor, '/balance'),
      sameWork: spec(floor, '/same/balance'),
      nestFloor: spec(nestFloor, '/balance'),
      nestSameWork: spec(nestFloor, '/same/balance'),
      baseline: baseline && spec(baseline, creditsPath(seeded.orgSlug)),
    },
    rounds,
    logRound('balance'),
  );
  return compareRow('balance', comparison, OUR_COST_TARGET);
}
