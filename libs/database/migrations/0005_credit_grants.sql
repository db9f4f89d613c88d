CREATE TABLE "credit_grants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"amount" bigint NOT NULL,
	"remaining" bigint NOT NULL,
	"category" text NOT NULL,
	"source" text NOT NULL,
	"source_ref" text NOT NULL,
	"ledger_entry_id" uuid,
	"priority" integer DEFAULT 50 NOT NULL,
	"effective_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"voided_at" timestamp with time zone,
	"settled_at" timestamp with time zone,
	"expiry_notice_at" timestamp with time zone,
	"description" text,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credit_grants_source_ref_unique" UNIQUE("source_ref"),
	CONSTRAINT "credit_grants_amount_check" CHECK ("credit_grants"."amount" > 0),
	CONSTRAINT "credit_grants_remaining_check" CHECK ("credit_grants"."remaining" >= 0 and "credit_grants"."remaining" <= "credit_grants"."amount"),
	CONSTRAINT "credit_grants_priority_check" CHECK ("credit_grants"."priority" between 0 and 100),
	CONSTRAINT "credit_grants_category_check" CHECK ("credit_grants"."category" in ('paid', 'promotional')),
	CONSTRAINT "credit_grants_source_check" CHECK ("credit_grants"."source" in ('purchase', 'auto_refill', 'admin', 'migration')),
	CONSTRAINT "credit_grants_window_check" CHECK ("credit_grants"."expires_at" is null or "credit_grants"."expires_at" > "credit_grants"."effective_at")
);
--> statement-breakpoint
ALTER TABLE "credit_ledger" DROP CONSTRAINT "credit_ledger_type_check";--> statement-breakpoint
ALTER TABLE "credit_balances" ADD COLUMN "next_expiry_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "credit_holds" ADD COLUMN "draws" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "credit_holds" ADD COLUMN "kept" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "credit_ledger" ADD COLUMN "draws" jsonb;--> statement-breakpoint
ALTER TABLE "credit_grants" ADD CONSTRAINT "credit_grants_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "credit_grants_org_idx" ON "credit_grants" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "credit_grants_live_idx" ON "credit_grants" USING btree ("org_id") WHERE "credit_grants"."settled_at" is null;--> statement-breakpoint
CREATE INDEX "credit_grants_expiry_idx" ON "credit_grants" USING btree ("expires_at") WHERE "credit_grants"."settled_at" is null and "credit_grants"."expires_at" is not null;--> statement-breakpoint
ALTER TABLE "credit_ledger" ADD CONSTRAINT "credit_ledger_type_check" CHECK ("credit_ledger"."transaction_type" in ('purchase', 'refund', 'usage', 'admin_adjustment', 'auto_refill', 'expiration', 'void'));--> statement-breakpoint
-- Each org's balance becomes one paid grant that never expires; balances and ledgers stay as they are.
INSERT INTO "credit_grants" ("org_id", "amount", "remaining", "category", "source", "source_ref", "description", "effective_at", "created_at")
SELECT "org_id", "balance", "balance", 'paid', 'migration', 'migration:' || "org_id"::text, 'Balance before credit grants', now(), now()
FROM "credit_balances" WHERE "balance" > 0;--> statement-breakpoint
-- Active holds drew from that balance: they draw from its grant.
UPDATE "credit_holds" h SET "draws" = jsonb_build_array(jsonb_build_object('grant_id', g."id", 'amount', h."amount"))
FROM "credit_grants" g
WHERE g."org_id" = h."org_id" AND g."source" = 'migration' AND h."status" = 'active' AND h."expires_at" > now();
