ALTER TABLE "checkout_sessions" ADD COLUMN "refund_settled_credits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Refunds debited before this column existed count as settled.
UPDATE "checkout_sessions" AS s SET "refund_settled_credits" = r."debited"
FROM (
  SELECT "checkout_session_id", -sum("amount") AS "debited" FROM "credit_ledger"
  WHERE "transaction_type" = 'refund' AND "checkout_session_id" IS NOT NULL
  GROUP BY "checkout_session_id"
) AS r
WHERE r."checkout_session_id" = s."id";
