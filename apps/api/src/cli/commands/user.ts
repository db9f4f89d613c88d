import { type Command } from '../command';

/** `user …` */
export const userCommands: Record<string, Command> = {
  'user create': {
    args: '<email>',
    help: ['create a user'],
    positional: 1,
    async run({ directory }, { positional: [email] }) {
      const user = await directory.createUser(email);
      return {
        note: `created user ${user.email} (${user.id})`,
        json: { id: user.id, email: user.email, created_at: user.createdAt },
      };
    },
  },
};
