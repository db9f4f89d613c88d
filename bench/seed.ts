import { DirectoryAdmin } from '@credits/auth';
import { openDatabase } from '@credits/database';
import { log } from './log';

export interface SeededOrg {
  id: string;
  slug: string;
  key: string;
}

export interface Seeded {
  orgId: string;
  orgSlug: string;
  userId: string;
  key: string;
  /** The webhook scenario's worst case: every grant of the run lands on this one org. */
  webhookOrg: SeededOrg;
  /** The webhook scenario spread over orgs, as many customers' payments are. */
  webhookOrgs: SeededOrg[];
  /** The webhook scenario's warm-up deliveries, before either timed run. */
  webhookWarmUpOrg: SeededOrg;
  /**
   * Usage debits: [0] takes the one-org run, the next USAGE_ORGS the spread run; the same again
   * after them for the runs with 20 grants per org.
   */
  usageOrgs: SeededOrg[];
  /** The floor's own orgs for the same runs (its debits never mix with the API's). */
  usageFloorOrgs: SeededOrg[];
  /** Auto-refill: each org's admin key buys and sets up; `key` is the host's service key that spends. */
  refillOrgs: RefillOrg[];
}

export interface RefillOrg extends SeededOrg {
  adminKey: string;
}

/** How many orgs the spread webhook scenario shares its events between. */
export const WEBHOOK_ORGS = 16;
/** How many orgs the spread usage scenario shares its debits between. */
export const USAGE_ORGS = 16;
/** How many orgs the auto-refill scenario's debits are dealt over (each with refills of its own). */
export const REFILL_ORGS = 2;

/** Migrates the fresh database and adds the orgs, admins and API keys the scenarios act as. */
export async function seed(url: string): Promise<Seeded> {
  const handle = await openDatabase({
    url,
    dataDir: '',
    poolMax: 2,
    logger: { log: () => undefined, warn: log, error: log },
  });
  try {
    const directory = new DirectoryAdmin(handle.db);
    const member = async (slug: string, email: string) => {
      const org = await directory.createOrg(slug, `Bench ${slug}`);
      const user = await directory.createUser(email);
      await directory.addMember(slug, email, 'admin');
      return { org, user, key: (await directory.createApiKey(email, 'bench')).key };
    };
    const webhookOrg = async (slug: string): Promise<SeededOrg> => {
      const { org, key } = await member(slug, `${slug}@bench.test`);
      return { id: org.id, slug: org.slug, key };
    };
    const main = await member('bench-org', 'bench@bench.test');
    const webhookOrgs: SeededOrg[] = [];
    for (let i = 0; i < WEBHOOK_ORGS; i++) webhookOrgs.push(await webhookOrg(`bench-webhooks-${i}`));
    const usageOrgs: SeededOrg[] = [];
    const usageFloorOrgs: SeededOrg[] = [];
    // The host backend's service key, limited to its org and allowed to spend, as §1.1 makes them.
    const usageOrg = async (slug: string): Promise<SeededOrg> => {
      const org = await directory.createOrg(slug, `Bench ${slug}`);
      const { key } = await directory.createServiceKey(`host-${slug}`, { scopes: ['credits:spend'], orgs: [slug] });
      return { id: org.id, slug: org.slug, key };
    };
    // Twice over: the same two runs again with 20 grants per org (see scenarios/usage.ts).
    for (let i = 0; i < 2 * (USAGE_ORGS + 1); i++) {
      usageOrgs.push(await usageOrg(`bench-usage-${i}`));
      usageFloorOrgs.push(await usageOrg(`bench-usage-floor-${i}`));
    }
    const refillOrgs: RefillOrg[] = [];
    for (let i = 0; i < REFILL_ORGS; i++) {
      const slug = `bench-refill-${i}`;
      const { org, key: adminKey } = await member(slug, `${slug}@bench.test`);
      const { key } = await directory.createServiceKey(`host-${slug}`, { scopes: ['credits:spend'], orgs: [slug] });
      refillOrgs.push({ id: org.id, slug: org.slug, key, adminKey });
    }
    return {
      orgId: main.org.id,
      orgSlug: main.org.slug,
      userId: main.user.id,
      key: main.key,
      webhookOrg: await webhookOrg('bench-webhooks'),
      webhookOrgs,
      webhookWarmUpOrg: await webhookOrg('bench-webhooks-warm-up'),
      usageOrgs,
      usageFloorOrgs,
      refillOrgs,
    };
  } finally {
    await handle.close();
  }
}
