ALTER TABLE "syncs" ADD COLUMN "full_interval_seconds" integer DEFAULT 86400 NOT NULL;--> statement-breakpoint
ALTER TABLE "syncs" ADD COLUMN "delta" jsonb DEFAULT '{}'::jsonb NOT NULL;