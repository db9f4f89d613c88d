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
}

/** How many orgs the spread webhook scenario shares its events between. */
export const WEBHOOK_ORGS = 16;

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
    return {
      orgId: main.org.id,
      orgSlug: main.org.slug,
      userId: main.user.id,
      key: main.key,
      webhookOrg: await webhookOrg('bench-webhooks'),
      webhookOrgs,
    };
  } finally {
    await handle.close();
  }
}
