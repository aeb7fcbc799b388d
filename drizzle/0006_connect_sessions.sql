CREATE TABLE "connect_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"tenant_id" text NOT NULL,
	"integrations" jsonb NOT NULL,
	"config" jsonb NOT NULL,
	"connection_id" uuid,
	"redirect_url" text,
	"allowed_origins" jsonb NOT NULL,
	"locale" text,
	"theme" jsonb NOT NULL,
	"allow_duplicates" boolean DEFAULT false NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_by" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"used_at" timestamp (3) with time zone,
	"result_connection_id" uuid,
	CONSTRAINT "connect_sessions_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_ref" text;--> statement-breakpoint
ALTER TABLE "connect_sessions" ADD CONSTRAINT "connect_sessions_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "connect_sessions_expires_idx" ON "connect_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "connections_account_idx" ON "connections" USING btree ("tenant_id","account_ref");