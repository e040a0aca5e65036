CREATE TABLE "sync_walk_slices" (
	"project_id" text NOT NULL,
	"api_version" text NOT NULL,
	"slice" integer NOT NULL,
	"created_at_on_or_after" text,
	"created_at_on_or_before" text,
	"unfiltered" boolean DEFAULT false NOT NULL,
	"page_token" text,
	"pages" integer DEFAULT 0 NOT NULL,
	"done" boolean DEFAULT false NOT NULL,
	CONSTRAINT "sync_walk_slices_project_id_api_version_slice_pk" PRIMARY KEY("project_id","api_version","slice")
);
--> statement-breakpoint
ALTER TABLE "sync_walk_seen" ADD COLUMN "slice" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_walk_seen" DROP CONSTRAINT "sync_walk_seen_project_id_api_version_page_number_pk";--> statement-breakpoint
ALTER TABLE "sync_walk_seen" ADD CONSTRAINT "sync_walk_seen_project_id_api_version_slice_page_number_pk" PRIMARY KEY("project_id","api_version","slice","page_number");--> statement-breakpoint
ALTER TABLE "sync_run_projects" ADD COLUMN "requests" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_run_projects" ADD COLUMN "rate_limited" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_run_projects" ADD COLUMN "slices" integer;--> statement-breakpoint
ALTER TABLE "sync_run_projects" ADD COLUMN "requests_per_second" double precision;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "requests" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "rate_limited" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
