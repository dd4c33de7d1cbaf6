-- The rate limits shared by the nodes: one token bucket per rate-limited category. A claim
-- locks its category's row, adds the tokens earned since `at` (up to the burst), takes one per
-- job it claims, and writes the rest back; so the nodes together start no more than the
-- category's rate_limit.
CREATE TABLE jobsched_rates (
    category text PRIMARY KEY,
    tokens   double precision NOT NULL,
    at       timestamptz NOT NULL
);
