CREATE TABLE "classify_job_parsing_settings" (
	"job_id" text PRIMARY KEY NOT NULL,
	"lang" text,
	"max_pages" integer,
	"target_pages" integer[],
	"target_pages_spec" text
);
--> statement-breakpoint
CREATE TABLE "classify_job_rules" (
	"job_id" text NOT NULL,
	"position" integer NOT NULL,
	"type" text NOT NULL,
	"description" text NOT NULL,
	CONSTRAINT "classify_job_rules_job_id_position_pk" PRIMARY KEY("job_id","position")
);
--> statement-breakpoint
CREATE TABLE "classify_job_status_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job_id" text NOT NULL,
	"project_id" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"observed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"run_id" uuid
);
--> statement-breakpoint
CREATE TABLE "classify_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"organization_id" text,
	"api_version" text NOT NULL,
	"status" text NOT NULL,
	"outcome" text NOT NULL,
	"mode" text,
	"user_id" text NOT NULL,
	"error_message" text,
	"job_record_id" text,
	"created_at" timestamp with time zone,
	"effective_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"file_input" text,
	"document_input_type" text,
	"configuration_id" text,
	"parse_job_id" text,
	"transaction_id" text,
	"result_type" text,
	"result_confidence" double precision,
	"result_reasoning" text,
	"raw" jsonb NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"synced_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_run_id" uuid,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sync_rejects" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid,
	"project_id" text NOT NULL,
	"api_version" text,
	"reason" text NOT NULL,
	"payload" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_run_projects" (
	"run_id" uuid NOT NULL,
	"project_id" text NOT NULL,
	"api_version" text,
	"mode" text,
	"status" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"pages" integer DEFAULT 0 NOT NULL,
	"jobs_seen" integer DEFAULT 0 NOT NULL,
	"jobs_inserted" integer DEFAULT 0 NOT NULL,
	"jobs_updated" integer DEFAULT 0 NOT NULL,
	"jobs_unchanged" integer DEFAULT 0 NOT NULL,
	"jobs_deleted" integer DEFAULT 0 NOT NULL,
	"rejects" integer DEFAULT 0 NOT NULL,
	"retries" integer DEFAULT 0 NOT NULL,
	"total_size" integer,
	"error" text,
	"warning" text,
	CONSTRAINT "sync_run_projects_run_id_project_id_pk" PRIMARY KEY("run_id","project_id")
);
--> statement-breakpoint
CREATE TABLE "sync_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"trigger" text NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"projects" integer DEFAULT 0 NOT NULL,
	"projects_failed" integer DEFAULT 0 NOT NULL,
	"pages" integer DEFAULT 0 NOT NULL,
	"jobs_seen" integer DEFAULT 0 NOT NULL,
	"jobs_inserted" integer DEFAULT 0 NOT NULL,
	"jobs_updated" integer DEFAULT 0 NOT NULL,
	"jobs_unchanged" integer DEFAULT 0 NOT NULL,
	"jobs_deleted" integer DEFAULT 0 NOT NULL,
	"rejects" integer DEFAULT 0 NOT NULL,
	"retries" integer DEFAULT 0 NOT NULL,
	"error" text,
	"host" text,
	"pid" integer
);
--> statement-breakpoint
CREATE TABLE "sync_state" (
	"project_id" text NOT NULL,
	"api_version" text NOT NULL,
	"page_token" text,
	"walk_started_at" timestamp with time zone,
	"walk_pages" integer DEFAULT 0 NOT NULL,
	"last_complete_walk_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_state_project_id_api_version_pk" PRIMARY KEY("project_id","api_version")
);
--> statement-breakpoint
CREATE TABLE "sync_walk_seen" (
	"project_id" text NOT NULL,
	"api_version" text NOT NULL,
	"page_number" integer NOT NULL,
	"job_ids" text[] NOT NULL,
	CONSTRAINT "sync_walk_seen_project_id_api_version_page_number_pk" PRIMARY KEY("project_id","api_version","page_number")
);
--> statement-breakpoint
ALTER TABLE "classify_job_parsing_settings" ADD CONSTRAINT "classify_job_parsing_settings_job_id_classify_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."classify_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "classify_job_rules" ADD CONSTRAINT "classify_job_rules_job_id_classify_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."classify_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_run_projects" ADD CONSTRAINT "sync_run_projects_run_id_sync_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."sync_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "classify_job_rules_type_idx" ON "classify_job_rules" USING btree ("type");--> statement-breakpoint
CREATE INDEX "classify_job_status_changes_job_idx" ON "classify_job_status_changes" USING btree ("job_id","observed_at");--> statement-breakpoint
CREATE INDEX "classify_job_status_changes_project_idx" ON "classify_job_status_changes" USING btree ("project_id","observed_at");--> statement-breakpoint
CREATE INDEX "classify_jobs_project_created_idx" ON "classify_jobs" USING btree ("project_id","created_at");--> statement-breakpoint
CREATE INDEX "classify_jobs_project_outcome_idx" ON "classify_jobs" USING btree ("project_id","outcome","created_at");--> statement-breakpoint
CREATE INDEX "sync_rejects_project_idx" ON "sync_rejects" USING btree ("project_id","received_at");--> statement-breakpoint
CREATE INDEX "sync_run_projects_project_idx" ON "sync_run_projects" USING btree ("project_id","started_at");