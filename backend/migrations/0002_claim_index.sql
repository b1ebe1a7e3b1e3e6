-- The claim reads queued jobs oldest first; (status, run_after, created_at) cannot give that
-- order, so every claim sorted all queued rows while holding the write lock (scripts/bench-jobs.sh:
-- ~170 claims/s with 10,000 queued). This partial index is read in order and the claim stops at
-- the first runnable row.
CREATE INDEX jobs_queued_order ON jobs(created_at) WHERE status = 'queued';
