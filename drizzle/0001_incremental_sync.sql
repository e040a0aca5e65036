ALTER TABLE "sync_run_projects" ADD COLUMN "pages_saved" integer;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "walk_kind" text;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "walk_filter" jsonb;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "last_complete_walk_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "last_full_walk_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "last_full_walk_pages" integer;--> statement-breakpoint
ALTER TABLE "sync_state" ADD COLUMN "detected_at" timestamp with time zone;