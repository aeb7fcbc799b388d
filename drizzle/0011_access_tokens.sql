CREATE TABLE "access_tokens" (
	"key" text PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"renew_at" timestamp (3) with time zone NOT NULL
);
