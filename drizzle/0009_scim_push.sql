CREATE TABLE "scim_requests" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"connection_id" uuid NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"method" text NOT NULL,
	"path" text NOT NULL,
	"status" integer NOT NULL,
	"scim_type" text,
	"detail" text,
	"resource_id" text,
	"latency_ms" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scim_resources" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"connection_id" uuid NOT NULL,
	"type" text NOT NULL,
	"name_key" text NOT NULL,
	"external_id" text,
	"body" jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"modified_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scim_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"connection_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone,
	CONSTRAINT "scim_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "scim_requests" ADD CONSTRAINT "scim_requests_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scim_resources" ADD CONSTRAINT "scim_resources_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scim_tokens" ADD CONSTRAINT "scim_tokens_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "scim_requests_connection_idx" ON "scim_requests" USING btree ("connection_id","id");--> statement-breakpoint
CREATE INDEX "scim_requests_at_idx" ON "scim_requests" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "scim_resources_name_idx" ON "scim_resources" USING btree ("connection_id","type","name_key");--> statement-breakpoint
CREATE INDEX "scim_resources_page_idx" ON "scim_resources" USING btree ("connection_id","type","created_at","id");--> statement-breakpoint
CREATE INDEX "scim_resources_external_idx" ON "scim_resources" USING btree ("connection_id","type","external_id");--> statement-breakpoint
CREATE INDEX "scim_tokens_connection_idx" ON "scim_tokens" USING btree ("connection_id");