import { alternate, type LoadSpec, type Rounds } from '../load';
import { logRound } from '../log';
import { compareRow, type Row } from '../report';
import { authHeaders, creditsPath, INVALID_BODY } from '../requests';
import type { Stack } from '../stack';

/** The same route answering 422 (`quantity: 11`), against a handler answering the same 422 JSON. */
export async function invalidScenario({ api, floor, seeded }: Stack, rounds: Rounds): Promise<Row> {
  const spec = (url: string, path: string): LoadSpec => ({
    url,
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
    spec(api.url, `${creditsPath(seeded.orgSlug)}/checkout`),
    spec(floor.url, '/invalid'),
    rounds,
    logRound('checkout 422'),
    spec(floor.url, '/same/invalid'),
  );
  return compareRow('checkout 422', comparison, { ratio: 0.6 });
}
