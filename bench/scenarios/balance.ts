import { alternate, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, type Row } from '../report';
import { authHeaders, creditsPath } from '../requests';
import type { Stack } from '../stack';

/** `GET …/credits`, against a handler running one SELECT of the balance. */
export async function balanceScenario({ api, floor, seeded }: Stack, rounds: Rounds): Promise<Row> {
  const spec = (url: string, path: string): LoadSpec => ({
    url,
    expect: [200],
    requests: [{ method: 'GET', path, headers: authHeaders(seeded.key) }],
  });
  const comparison = await alternate(
    spec(api.url, creditsPath(seeded.orgSlug)),
    spec(floor.url, '/balance'),
    rounds,
    logRound('balance'),
    spec(floor.url, '/same/balance'),
  );
  return compareRow('balance', comparison, { ratio: 0.6 });
}
