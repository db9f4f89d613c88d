import { alternate, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, type Row } from '../report';
import { checkoutLoad, creditsPath } from '../requests';
import type { Stack } from '../stack';

/** `POST …/credits/checkout` answered 200, against a Fastify handler making the same Stripe call. */
export async function checkoutScenario({ api, floor, seeded }: Stack, rounds: Rounds): Promise<Row> {
  const comparison = await alternate(
    checkoutLoad(api.url, `${creditsPath(seeded.orgSlug)}/checkout`, seeded.key),
    checkoutLoad(floor.url, '/checkout', seeded.key),
    rounds,
    logRound('checkout 200'),
    checkoutLoad(floor.url, '/same/checkout', seeded.key),
  );
  return compareRow('checkout 200', comparison, { ratio: 0.8, addedP99: 5 });
}
