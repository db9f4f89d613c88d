/**
 * Relations for Drizzle's relational query API (`db.query.organizations.findFirst({ with: … })`).
 * They describe the foreign keys of `schema.ts` and do not change the SQL schema.
 */
import { relations } from 'drizzle-orm';
import { apiKeys, checkoutSessions, creditBalances, creditLedger, memberships, organizations, users } from './schema';

export const organizationsRelations = relations(organizations, ({ many, one }) => ({
  memberships: many(memberships),
  checkoutSessions: many(checkoutSessions),
  ledgerEntries: many(creditLedger),
  balance: one(creditBalances, { fields: [organizations.id], references: [creditBalances.orgId] }),
}));

export const usersRelations = relations(users, ({ many }) => ({
  memberships: many(memberships),
  apiKeys: many(apiKeys),
  checkoutSessions: many(checkoutSessions),
}));

export const membershipsRelations = relations(memberships, ({ one }) => ({
  organization: one(organizations, { fields: [memberships.orgId], references: [organizations.id] }),
  user: one(users, { fields: [memberships.userId], references: [users.id] }),
}));

export const apiKeysRelations = relations(apiKeys, ({ one }) => ({
  user: one(users, { fields: [apiKeys.userId], references: [users.id] }),
}));

export const checkoutSessionsRelations = relations(checkoutSessions, ({ one, many }) => ({
  organization: one(organizations, { fields: [checkoutSessions.orgId], references: [organizations.id] }),
  user: one(users, { fields: [checkoutSessions.userId], references: [users.id] }),
  ledgerEntries: many(creditLedger),
}));

export const creditLedgerRelations = relations(creditLedger, ({ one }) => ({
  organization: one(organizations, { fields: [creditLedger.orgId], references: [organizations.id] }),
  checkoutSession: one(checkoutSessions, {
    fields: [creditLedger.checkoutSessionId],
    references: [checkoutSessions.id],
  }),
}));

export const creditBalancesRelations = relations(creditBalances, ({ one }) => ({
  organization: one(organizations, { fields: [creditBalances.orgId], references: [organizations.id] }),
}));
