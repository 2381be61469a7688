/**
 * How long a process's own checks may take (each readiness probe, the store's ping and memory
 * policy at a scrape), and how long a `--workers` primary waits for each worker's answer to
 * /readyz and /metrics. The first is well below the second: with both at 2 s, a worker whose
 * store took its whole budget (Redis silent or refusing) answered just after the primary had
 * given up, so /readyz said 503 "no readiness answer" (every pod out of its Service on a shared
 * Redis outage, which `store.redis.gateReadiness: false` exists to prevent) and a scrape lost
 * that worker's counts and `store_up`. The checks keep their 2 s (less, and a store's own words
 * — a Cluster refusing the credentials, a Sentinel naming the missing replica — give way to "no
 * answer"); the wait is longer, and the chart's readiness probe allows 5 s.
 */

/** Longest a process's own readiness probe or scrape-time store reading may take. */
export const CHECK_BUDGET_MS = 2000

/** Longest a `--workers` primary waits for a worker's answer (readiness, metrics, handshakes): the check's budget and two seconds for a busy worker. */
export const WORKER_ANSWER_WAIT_MS = CHECK_BUDGET_MS + 2000
