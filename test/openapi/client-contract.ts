/**
 * What a consumer of clients/typescript relies on, written as a consumer writes it. It is
 * type-checked twice: with the repository (`npm run typecheck`) and, by generated-client.spec.ts,
 * on its own as an outside project would compile it. A schema that types a field wrongly
 * (an `object` for a nullable string, a `number` made required by its default) fails both.
 */
import { createCreditsClient, type APIErrorPayload, type Schemas } from '../../clients/typescript/src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

type Checkout = Schemas['CheckoutSessionResponse'];
type CheckoutRequest = Schemas['CreateCheckoutSessionRequest'];

export type Contract = [
  Expect<Equal<Checkout['checkout_url'], string>>,
  Expect<Equal<Checkout['session_id'], string>>,
  Expect<Equal<Checkout['expires_at'], string | null | undefined>>,
  Expect<Equal<Checkout['currency'], string | null | undefined>>,
  Expect<Equal<Checkout['amount_total'], number | null | undefined>>,
  Expect<Equal<Checkout['credits'], number | undefined>>,
  Expect<Equal<CheckoutRequest['quantity'], number | undefined>>,
  Expect<Equal<APIErrorPayload['code'], number>>,
  Expect<Equal<APIErrorPayload['detail'], string>>,
  Expect<Equal<APIErrorPayload['errors'], { loc: (string | number)[]; msg: string; type: string }[] | null>>,
  Expect<Equal<Schemas['CreditBalance']['balance'], number>>,
  Expect<Equal<Schemas['CreditTransaction']['checkout_session_id'], string | null>>,
  Expect<Equal<Schemas['CreditTransactionPage']['next_cursor'], string | null>>,
  Expect<Equal<Schemas['ReadinessStatus']['checks'], Record<string, string>>>,
  Expect<Equal<Schemas['CreateCreditHoldRequest']['expires_in'], number | undefined>>,
  Expect<Equal<Schemas['CreditHold']['captured_amount'], number | null>>,
  Expect<Equal<Schemas['CreditHold']['metadata'], Record<string, string> | null>>,
  Expect<Equal<Schemas['CreditHold']['released_at'], string | null>>,
  Expect<Equal<Schemas['CapturedCreditHold']['transaction'], Schemas['CreditTransaction']>>,
];

const client = createCreditsClient({ baseUrl: 'http://localhost:3000', token: 'ck_example' });

export async function buyCredits(org: string): Promise<string> {
  const { data, error } = await client.POST('/api/v1/org/{org}/credits/checkout', {
    params: { path: { org }, header: { 'Idempotency-Key': 'k-1' } },
    body: { success_url: 'https://app.example.com/ok?id={CHECKOUT_SESSION_ID}', cancel_url: 'https://app.example.com' },
  });
  if (error) {
    const field = error.errors?.[0]?.loc.join('.');
    throw new Error(`${error.code} ${error.type} ${field ?? ''}`);
  }
  return data.checkout_url;
}

export async function contractBreaches(org: string): Promise<void> {
  await client.POST('/api/v1/org/{org}/credits/checkout', {
    params: { path: { org } },
    // @ts-expect-error quantity is an integer, not a string
    body: { success_url: 'https://a.example', cancel_url: 'https://b.example', quantity: '2' },
  });
  await client.POST('/api/v1/org/{org}/credits/checkout', {
    params: { path: { org } },
    // @ts-expect-error cancel_url is required
    body: { success_url: 'https://a.example' },
  });
  // @ts-expect-error the org is a required path parameter
  await client.GET('/api/v1/org/{org}/credits', {});
  const { error } = await client.GET('/api/v1/org/{org}/credits', { params: { path: { org } } });
  // @ts-expect-error an error type outside the catalog
  if (error?.type === 'no_such_error') return;
}
