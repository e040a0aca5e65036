-- Custom migration: drizzle-kit cannot declare indexes on materialized views.
-- REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index on plain columns of each one; the same
-- indexes serve the usual filters (project, then day / rule type / outcome). A migration that recreates
-- one of these views must create its index again (test/integration/views.test.ts checks that it exists).
CREATE UNIQUE INDEX "classify_outcomes_daily_key" ON "classify_outcomes_daily" ("project_id", "day");--> statement-breakpoint
CREATE UNIQUE INDEX "classify_rule_type_usage_key" ON "classify_rule_type_usage" ("project_id", "rule_type");--> statement-breakpoint
CREATE UNIQUE INDEX "classify_top_errors_key" ON "classify_top_errors" ("project_id", "outcome", "error_pattern");
