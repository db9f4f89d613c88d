import { alternate, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, OUR_COST_TARGET, type Row } from '../table-rows';
import { checkoutLoad, creditsPath } from '../requests';
import type { Service } from '../processes';
import type { Stack } from '../stack';

/** `POST …/credits/checkout` answered 200, against floors making the same Stripe call. */
export async function checkoutScenario(
  { api, floor, nestFloor, baseline, seeded }: Stack,
  rounds: Rounds,
): Promise<Row> {
  const load = ({ url, child }: Service, path: string) => ({ ...checkoutLoad(url, path, seeded.key), pid: child.pid });
  const comparison = await alternate(
    {
      measured: load(api, `${creditsPath(seeded.orgSlug)}/checkout`),
      floor: load(floor, '/checkout'),
      sameWork: load(floor, '/same/checkout'),
      nestFloor: load(nestFloor, '/checkout'),
      nestSameWork: load(nestFloor, '/same/checkout'),
      baseline: baseline && load(baseline, `${creditsPath(seeded.orgSlug)}/checkout`),
    },
    rounds,
    logRound('checkout 200'),
  );
  return compareRow('checkout 200', comparison, OUR_COST_TARGET);
}
