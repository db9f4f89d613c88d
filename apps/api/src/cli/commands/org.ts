import { type Command, cell } from '../command';

/** `org …` */
export const orgCommands: Record<string, Command> = {
  'org create': {
    args: '<slug> [--name NAME]',
    help: ['create an organization (slug: a-z, 0-9, "-", 3-63 chars)'],
    positional: 1,
    flags: ['name'],
    async run({ directory }, { positional: [slug], flags }) {
      const org = await directory.createOrg(slug, flags.name);
      return {
        note: `created organization ${org.slug} (${org.id})`,
        json: { id: org.id, slug: org.slug, name: org.name, created_at: org.createdAt },
      };
    },
  },
  'org list': {
    args: '',
    help: ['list organizations: slug, name, members'],
    positional: 0,
    async run({ directory }) {
      const orgs = await directory.listOrgs();
      return {
        lines: orgs.map((org) => `${org.slug}\t${org.name}\t${org.members} member(s)`),
        note: orgs.length === 0 ? 'no organizations' : undefined,
        json: orgs.map((org) => ({
          id: org.id,
          slug: org.slug,
          name: org.name,
          members: org.members,
          created_at: org.createdAt,
        })),
      };
    },
  },
  'org show': {
    args: '<slug>',
    help: ['an organization: id, slug, name, created, Stripe customer, balance, members'],
    positional: 1,
    async run({ directory, entries }, { positional: [slug] }) {
      const org = await directory.orgBySlug(slug);
      const [balance, members] = await Promise.all([entries.balance(org.id), directory.memberCount(org.id)]);
      const shown = {
        id: org.id,
        slug: org.slug,
        name: org.name,
        created_at: org.createdAt,
        stripe_customer_id: org.stripeCustomerId,
        balance,
        members,
      };
      return { lines: Object.entries(shown).map(([field, value]) => `${field}\t${cell(value)}`), json: shown };
    },
  },
};
