ALTER TABLE "classify_jobs" ADD COLUMN "content_digest" "bytea";
-- Null on the rows stored until now: each gets its digest on its next sync (one row version, once).
