CREATE TABLE "api_key_orgs" (
	"api_key_id" uuid NOT NULL,
	"org_id" uuid NOT NULL,
	CONSTRAINT "api_key_orgs_api_key_id_org_id_pk" PRIMARY KEY("api_key_id","org_id")
);
--> statement-breakpoint
CREATE TABLE "auto_refill_settings" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"enabled" boolean DEFAULT false NOT NULL,
	"threshold" bigint DEFAULT 0 NOT NULL,
	"quantity" integer DEFAULT 1 NOT NULL,
	"monthly_limit" integer DEFAULT 5 NOT NULL,
	"payment_method_id" text,
	"card_brand" text,
	"card_last4" text,
	"card_exp_month" integer,
	"card_exp_year" integer,
	"last_failure_at" timestamp with time zone,
	"last_failure_code" text,
	"last_failure_message" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "auto_refill_settings_threshold_check" CHECK ("auto_refill_settings"."threshold" >= 0),
	CONSTRAINT "auto_refill_settings_quantity_check" CHECK ("auto_refill_settings"."quantity" between 1 and 10),
	CONSTRAINT "auto_refill_settings_limit_check" CHECK ("auto_refill_settings"."monthly_limit" between 1 and 100)
);
--> statement-breakpoint
CREATE TABLE "auto_refills" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"bundles" integer NOT NULL,
	"credits" bigint NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"stripe_payment_intent_id" text,
	"failure_code" text,
	"failure_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "auto_refills_stripe_payment_intent_id_unique" UNIQUE("stripe_payment_intent_id"),
	CONSTRAINT "auto_refills_status_check" CHECK ("auto_refills"."status" in ('pending', 'processing', 'succeeded', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "credit_holds" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" uuid NOT NULL,
	"amount" bigint NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"captured_amount" bigint,
	"description" text,
	"metadata" jsonb,
	"ledger_entry_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"captured_at" timestamp with time zone,
	"released_at" timestamp with time zone,
	CONSTRAINT "credit_holds_amount_check" CHECK ("credit_holds"."amount" > 0),
	CONSTRAINT "credit_holds_status_check" CHECK ("credit_holds"."status" in ('active', 'captured', 'released', 'expired')),
	CONSTRAINT "credit_holds_captured_check" CHECK ("credit_holds"."captured_amount" is null or ("credit_holds"."captured_amount" > 0 and "credit_holds"."captured_amount" <= "credit_holds"."amount"))
);
--> statement-breakpoint
CREATE TABLE "usage_records" (
	"org_id" uuid NOT NULL,
	"idempotency_key" text NOT NULL,
	"id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"request_hash" text NOT NULL,
	"amount" bigint NOT NULL,
	"debited" bigint NOT NULL,
	"ledger_entry_id" uuid,
	"balance_after" bigint NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "usage_records_org_id_idempotency_key_pk" PRIMARY KEY("org_id","idempotency_key"),
	CONSTRAINT "usage_records_id_unique" UNIQUE("id"),
	CONSTRAINT "usage_records_debited_check" CHECK ("usage_records"."debited" >= 0 and "usage_records"."debited" <= "usage_records"."amount")
);
--> statement-breakpoint
ALTER TABLE "credit_ledger" DROP CONSTRAINT "credit_ledger_type_check";--> statement-breakpoint
ALTER TABLE "api_keys" ALTER COLUMN "user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "service_name" text;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "scopes" text[];--> statement-breakpoint
ALTER TABLE "checkout_sessions" ADD COLUMN "save_payment_method" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "credit_ledger" ADD COLUMN "metadata" jsonb;--> statement-breakpoint
ALTER TABLE "credit_ledger" ADD COLUMN "receipt_url" text;--> statement-breakpoint
ALTER TABLE "api_key_orgs" ADD CONSTRAINT "api_key_orgs_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_key_orgs" ADD CONSTRAINT "api_key_orgs_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auto_refill_settings" ADD CONSTRAINT "auto_refill_settings_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auto_refills" ADD CONSTRAINT "auto_refills_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credit_holds" ADD CONSTRAINT "credit_holds_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_records" ADD CONSTRAINT "usage_records_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "auto_refills_org_idx" ON "auto_refills" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "auto_refills_one_in_flight_idx" ON "auto_refills" USING btree ("org_id") WHERE "auto_refills"."status" in ('pending', 'processing');--> statement-breakpoint
CREATE INDEX "credit_holds_org_idx" ON "credit_holds" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "credit_holds_active_idx" ON "credit_holds" USING btree ("org_id","expires_at") WHERE "credit_holds"."status" = 'active';--> statement-breakpoint
CREATE INDEX "usage_records_expires_idx" ON "usage_records" USING btree ("expires_at");--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_owner_check" CHECK (("api_keys"."user_id" is null) <> ("api_keys"."service_name" is null));--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_service_scopes_check" CHECK ("api_keys"."service_name" is null or "api_keys"."scopes" is not null);--> statement-breakpoint
ALTER TABLE "credit_ledger" ADD CONSTRAINT "credit_ledger_type_check" CHECK ("credit_ledger"."transaction_type" in ('purchase', 'refund', 'usage', 'admin_adjustment', 'auto_refill'));