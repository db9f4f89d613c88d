import { MEMBER_ROLES, type MemberRole } from '@credits/database';
import { UsageError } from '../arguments';
import { type Command } from '../command';

/** `member …` */
export const memberCommands: Record<string, Command> = {
  'member add': {
    args: '<slug> <email> --role ROLE',
    help: ['add a user to an org (ROLE: owner, admin, member)'],
    positional: 2,
    flags: ['role'],
    check({ flags }) {
      if (!MEMBER_ROLES.includes(flags.role as MemberRole))
        throw new UsageError(`--role must be one of ${MEMBER_ROLES.join(', ')}`);
    },
    async run({ directory }, { positional: [slug, email], flags }) {
      const { user, role } = await directory.addMember(slug, email, flags.role as MemberRole);
      return { note: `added ${user.email} to ${slug} as ${role}`, json: { org: slug, email: user.email, role } };
    },
  },
  'member remove': {
    args: '<slug> <email>',
    help: ['remove a user from an org (their API keys stay, for their other orgs)'],
    positional: 2,
    async run({ directory }, { positional: [slug, email] }) {
      const { user, role } = await directory.removeMember(slug, email);
      return { note: `removed ${user.email} (${role}) from ${slug}`, json: { org: slug, email: user.email, role } };
    },
  },
};
