-- Rate and concurrency counters shared by instances without Redis. UNLOGGED: written on every
-- upstream call, and a counter lost in a server crash only restarts one window.
CREATE UNLOGGED TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer NOT NULL,
	"expire" timestamp (3) with time zone
);
