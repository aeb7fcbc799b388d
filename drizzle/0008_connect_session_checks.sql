ALTER TABLE "connect_sessions" ADD COLUMN "result_outcome" text;--> statement-breakpoint
ALTER TABLE "connect_sessions" ADD COLUMN "checking_since" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "connect_sessions" ADD COLUMN "state" text;