//! Job queue benchmark (`scripts/bench-jobs.sh` runs it; figures in `docs/benchmarks.md`).
//!
//! Everything goes through the library as the server uses it: `Db::open` (WAL,
//! synchronous=FULL, foreign keys, busy timeout 10 s, pool of 8), `jobs::store::enqueue` in a
//! `BEGIN IMMEDIATE` transaction (`Db::tx`) followed by `JobsHandle::wake`, and the worker's
//! claim transaction (`store::claim` + the `running` status event, `db::tx_sync`). Only the
//! handler is left out: a claimed job is settled `succeeded` at once (`store::finish` + status
//! event, one transaction).
//!
//! 1. latency: W async workers shaped like `worker.rs::worker_loop` (claim via `Db::run`; when
//!    idle, sleep on `JobsHandle::notify` with the 5 s poll as fallback; after a claim wake
//!    another worker). One task enqueues N jobs one by one, SPACING ms apart, each with its own
//!    site, environment and node. Per job: commit of the enqueue -> the claim's commit returned
//!    to the worker (the moment `run_job` would start).
//! 2. throughput: Q queued jobs (distinct sites/nodes, seeded in one transaction through
//!    `enqueue`), then T threads claim until the queue is empty, each claim its own transaction
//!    (claimed rows stay `running`; distinct sites/nodes keep the exclusion from blocking).
//!    Baseline: a naive claim — `SELECT id … LIMIT 1` then `UPDATE … WHERE id = ? AND
//!    status = 'queued'` in a DEFERRED transaction, retried on SQLITE_BUSY (counted).
//!
//! usage: bench_jobs [--dir DIR] [--latency-jobs N] [--spacing-ms MS] [--workers W]
//!                   [--queue Q] [--threads 1,4] [--skip-latency] [--skip-throughput]
//!                   [--what-if-index] [--methods claim,naive]
//! Prints a report and `RESULT key=value` lines (parsed by the script).

use pressluft_backend::db::{tx_sync, Db};
use pressluft_backend::error::AppError;
use pressluft_backend::jobs::progress::status_event;
use pressluft_backend::jobs::store::{self, Finish, NewJob};
use pressluft_backend::jobs::JobsHandle;
use pressluft_backend::util;
use pressluft_common::JobType;
use rusqlite::{params, ErrorCode, OptionalExtension, TransactionBehavior};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The server's default `PRESSLUFT_POLL_MS` (fallback only; wake-ups do the work).
const POLL: Duration = Duration::from_secs(5);
const WORKER_ID: &str = "bench:1";

struct Args {
    dir: PathBuf,
    latency_jobs: usize,
    spacing_ms: u64,
    workers: usize,
    queue: usize,
    threads: Vec<usize>,
    latency: bool,
    throughput: bool,
    what_if_index: bool,
    methods: Vec<Method>,
}

fn usage() -> ! {
    eprintln!(
        "usage: bench_jobs [--dir DIR] [--latency-jobs N (1000)] [--spacing-ms MS (2)] \
         [--workers W (2)] [--queue Q (10000)] [--threads LIST (1,4)] [--skip-latency] \
         [--skip-throughput] [--what-if-index] [--methods claim,naive]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        dir: std::env::temp_dir(),
        latency_jobs: 1000,
        spacing_ms: 2,
        workers: 2,
        queue: 10_000,
        threads: vec![1, 4],
        latency: true,
        throughput: true,
        what_if_index: false,
        methods: vec![Method::Claim, Method::Naive],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--dir" => a.dir = PathBuf::from(val()),
            "--latency-jobs" => a.latency_jobs = val().parse().unwrap_or_else(|_| usage()),
            "--spacing-ms" => a.spacing_ms = val().parse().unwrap_or_else(|_| usage()),
            "--workers" => a.workers = val().parse().unwrap_or_else(|_| usage()),
            "--queue" => a.queue = val().parse().unwrap_or_else(|_| usage()),
            "--threads" => {
                a.threads = val()
                    .split(',')
                    .map(|s| s.trim().parse().unwrap_or_else(|_| usage()))
                    .collect()
            }
            "--methods" => {
                a.methods = val()
                    .split(',')
                    .map(|s| match s.trim() {
                        "claim" => Method::Claim,
                        "naive" => Method::Naive,
                        _ => usage(),
                    })
                    .collect()
            }
            "--skip-latency" => a.latency = false,
            "--skip-throughput" => a.throughput = false,
            "--what-if-index" => a.what_if_index = true,
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    if a.workers == 0 || a.threads.contains(&0) || a.latency_jobs == 0 || a.queue == 0 {
        usage()
    }
    a
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Res<()> {
    let args = parse_args();
    // The library logs the detail of internal errors (e.g. `database is locked`) through tracing.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    std::fs::create_dir_all(&args.dir)?;
    let sqlite_version: String =
        rusqlite::Connection::open_in_memory()?
            .query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
    println!(
        "job queue benchmark: dir {} (sqlite {sqlite_version}, WAL, synchronous=FULL)",
        args.dir.display()
    );
    println!("RESULT sqlite={sqlite_version}");
    if args.latency {
        latency(&args)?;
    }
    if args.throughput {
        throughput(&args)?;
    }
    Ok(())
}

/// A fresh database (through `Db::open`, migrations applied) in its own temp dir.
fn fresh_db(args: &Args) -> Res<(tempfile::TempDir, Db)> {
    let dir = tempfile::Builder::new()
        .prefix("pressluft-bench-jobs-")
        .tempdir_in(&args.dir)?;
    let db = Db::open(&dir.path().join("pressluft.db"))?;
    Ok((dir, db))
}

/// Inserts a node, a site and its production environment with ids derived from `n`; returns
/// (site, environment, node).
fn fixture(tx: &rusqlite::Transaction<'_>, n: usize) -> Result<(String, String, String), AppError> {
    let (site, env, node) = (util::new_id(), util::new_id(), util::new_id());
    let now = util::now();
    tx.execute(
        "INSERT INTO nodes (id, name, hostname, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![node, format!("node-{n}"), format!("node-{n}.example"), now],
    )?;
    tx.execute(
        "INSERT INTO sites (id, name, slug, primary_environment_id, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![site, format!("Site {n}"), format!("site-{n}"), env, now],
    )?;
    tx.execute(
        "INSERT INTO environments (id, site_id, name, slug, environment_type, node_id, \
         preview_url, files_root, db_name, system_user, created_at, updated_at) \
         VALUES (?1, ?2, 'Production', 'production', 'production', ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            env,
            site,
            node,
            format!("https://site-{n}.example"),
            format!("/srv/site-{n}"),
            format!("wp_site_{n}"),
            format!("site{n}"),
            now
        ],
    )?;
    Ok((site, env, node))
}

fn new_job(site: String, env: String, node: String) -> NewJob {
    NewJob {
        job_type: JobType::BackupCreate,
        site_id: Some(site),
        environment_id: Some(env),
        node_id: Some(node),
        backup_id: None,
        payload: serde_json::json!({"scope": "full"}),
        max_attempts: 3,
    }
}

/// The worker's claim transaction (`worker.rs::claim` without the handler's `on_start`).
fn claim_tx(conn: &mut rusqlite::Connection) -> Result<Option<store::JobRow>, AppError> {
    tx_sync(conn, |tx| {
        let Some(job) = store::claim(tx, WORKER_ID)? else {
            return Ok(None);
        };
        status_event(tx, &job.id)?;
        Ok(Some(job))
    })
}

/// Settles a claimed job `succeeded` (row + status event, one transaction, like `settle`).
fn finish_tx(conn: &mut rusqlite::Connection, job: &store::JobRow) -> Result<(), AppError> {
    let result = serde_json::json!({});
    tx_sync(conn, |tx| {
        if store::finish(
            tx,
            &job.id,
            job.attempt,
            &Finish::Succeeded { result: &result },
        )? {
            status_event(tx, &job.id)?;
        }
        Ok(())
    })
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// 1. Enqueue-to-running latency

fn latency(args: &Args) -> Res<()> {
    let (_dir, db) = fresh_db(args)?;
    let n = args.latency_jobs;
    let fixtures: Vec<(String, String, String)> = {
        let mut conn = db.conn()?;
        tx_sync(&mut conn, |tx| (0..n).map(|i| fixture(tx, i)).collect())?
    };
    let rt = tokio::runtime::Runtime::new()?; // as pressluft-server: one worker thread per core
    let jobs = JobsHandle::new();
    let stop = CancellationToken::new();
    let claimed: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let poll_wakeups = Arc::new(AtomicU64::new(0));

    let out = rt.block_on(async {
        let mut workers = Vec::new();
        for _ in 0..args.workers {
            let (db, jobs, stop, claimed, polls) = (
                db.clone(),
                jobs.clone(),
                stop.clone(),
                claimed.clone(),
                poll_wakeups.clone(),
            );
            workers.push(tokio::spawn(async move {
                while !stop.is_cancelled() {
                    match db.run(claim_tx).await {
                        Ok(Some(job)) => {
                            let at = Instant::now();
                            claimed.lock().unwrap().insert(job.id.clone(), at);
                            // More jobs may be runnable: let an idle worker look too.
                            jobs.notify.notify_one();
                            db.run(move |c| finish_tx(c, &job)).await?;
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => return Err(e),
                    }
                    tokio::select! {
                        _ = jobs.notify.notified() => {}
                        _ = tokio::time::sleep(POLL) => { polls.fetch_add(1, Ordering::Relaxed); }
                        _ = stop.cancelled() => break,
                    }
                }
                Ok::<(), AppError>(())
            }));
        }

        let mut enqueued: Vec<(String, Instant)> = Vec::with_capacity(n);
        let mut enqueue_tx: Vec<f64> = Vec::with_capacity(n);
        let spacing = Duration::from_millis(args.spacing_ms);
        let t0 = Instant::now();
        for (site, env, node) in fixtures {
            let begin = Instant::now();
            let id = db
                .tx(move |tx| store::enqueue(tx, new_job(site, env, node)))
                .await?;
            let committed = Instant::now();
            jobs.wake();
            enqueue_tx.push(ms(committed - begin));
            enqueued.push((id, committed));
            tokio::time::sleep(spacing).await;
        }
        // Wait until every job was claimed (bounded).
        let deadline = Instant::now() + Duration::from_secs(60);
        while claimed.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let wall = t0.elapsed();
        stop.cancel();
        for w in workers {
            w.await.map_err(|e| AppError::internal(e.to_string()))??;
        }
        Ok::<_, AppError>((enqueued, enqueue_tx, wall))
    })?;
    let (enqueued, mut enqueue_tx, wall) = out;
    let claimed = claimed.lock().unwrap();
    let mut lat = Vec::with_capacity(n);
    let mut early = 0usize;
    for (id, committed) in &enqueued {
        let at = claimed
            .get(id)
            .ok_or_else(|| format!("job {id} was not claimed within 60 s"))?;
        // The worker can see the row before the enqueuer's clock read after commit returns.
        if at < committed {
            early += 1;
        }
        lat.push(ms(at.saturating_duration_since(*committed)));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    enqueue_tx.sort_by(|a, b| a.total_cmp(b));
    let not_running: i64 = db.conn()?.query_row(
        "SELECT COUNT(*) FROM jobs WHERE status <> 'succeeded'",
        [],
        |r| r.get(0),
    )?;
    if not_running != 0 {
        return Err(format!("{not_running} jobs did not end succeeded").into());
    }
    let (p50, p99, max) = (pct(&lat, 50.0), pct(&lat, 99.0), lat[lat.len() - 1]);
    println!(
        "\n[latency] {n} jobs, one enqueue transaction each, {} ms apart, {} workers (Notify \
         wake-up, {} s poll fallback), wall {:.2} s",
        args.spacing_ms,
        args.workers,
        POLL.as_secs(),
        wall.as_secs_f64()
    );
    println!(
        "  enqueue commit -> claim committed:  p50 {p50:.3} ms  p99 {p99:.3} ms  max {max:.3} ms  \
         (claims seen before the enqueuer's clock read: {early}; poll wake-ups: {})",
        poll_wakeups.load(Ordering::Relaxed)
    );
    println!(
        "  enqueue transaction (BEGIN IMMEDIATE .. COMMIT, fsync):  p50 {:.3} ms  p99 {:.3} ms",
        pct(&enqueue_tx, 50.0),
        pct(&enqueue_tx, 99.0)
    );
    println!(
        "RESULT latency_jobs={n} latency_workers={} latency_p50_ms={p50:.3} latency_p99_ms={p99:.3} \
         latency_max_ms={max:.3} enqueue_tx_p50_ms={:.3} enqueue_tx_p99_ms={:.3} poll_wakeups={}",
        args.workers,
        pct(&enqueue_tx, 50.0),
        pct(&enqueue_tx, 99.0),
        poll_wakeups.load(Ordering::Relaxed)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Claim throughput

/// A database holding `q` queued jobs (distinct sites/nodes), seeded in one transaction.
fn seeded_db(args: &Args, extra_index: bool) -> Res<(tempfile::TempDir, Db, Duration)> {
    let (dir, db) = fresh_db(args)?;
    let t = Instant::now();
    let mut conn = db.conn()?;
    if extra_index {
        conn.execute_batch(WHAT_IF_INDEX)?;
    }
    let q = args.queue;
    tx_sync(&mut conn, |tx| {
        for i in 0..q {
            let (site, env, node) = fixture(tx, i)?;
            store::enqueue(tx, new_job(site, env, node))?;
        }
        Ok(())
    })?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    Ok((dir, db, t.elapsed()))
}

/// Not in the schema: an index matching the claim's `ORDER BY` (a what-if, `--what-if-index`).
const WHAT_IF_INDEX: &str =
    "CREATE INDEX bench_jobs_queued ON jobs(created_at) WHERE status = 'queued';";

const NAIVE_SELECT: &str = "SELECT j.id FROM jobs j WHERE j.status = 'queued' \
    AND (j.run_after IS NULL OR j.run_after <= ?1) \
    AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.site_id = j.site_id) \
    AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.status = 'running' AND r.node_id = j.node_id) \
    ORDER BY j.created_at, j.rowid LIMIT 1";

#[derive(Default)]
struct Stats {
    busy: u64,
    lost: u64,
    /// Claim transactions that failed (logged above by the library), retried like a worker.
    errors: u64,
}

/// Give up after this many failed claim transactions.
const MAX_ERRORS: u64 = 100;

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// One naive claim: DEFERRED transaction, SELECT then UPDATE, retried on SQLITE_BUSY and when
/// another worker took the row first. `Ok(false)` when the queue is empty.
fn naive_claim(conn: &mut rusqlite::Connection, stats: &mut Stats) -> Res<bool> {
    loop {
        let attempt = (|| -> Result<Option<bool>, rusqlite::Error> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let now = util::now();
            let Some(id) = tx
                .query_row(NAIVE_SELECT, [&now], |r| r.get::<_, String>(0))
                .optional()?
            else {
                return Ok(Some(false));
            };
            let n = tx.execute(
                "UPDATE jobs SET status = 'running', attempt_count = attempt_count + 1, \
                 locked_at = ?1, locked_by = ?2, heartbeat_at = ?1, \
                 started_at = COALESCE(started_at, ?1), output_tail = NULL \
                 WHERE id = ?3 AND status = 'queued'",
                params![now, WORKER_ID, id],
            )?;
            if n == 0 {
                return Ok(None); // lost the race: rollback on drop, try again
            }
            status_event(&tx, &id)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.to_string().into()))?;
            tx.commit()?;
            Ok(Some(true))
        })();
        match attempt {
            Ok(Some(done)) => return Ok(done),
            Ok(None) => stats.lost += 1,
            Err(e) if is_busy(&e) => {
                stats.busy += 1;
                std::thread::yield_now();
            }
            Err(e) => return Err(e.into()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Method {
    Claim,
    Naive,
}

struct Run {
    claims: u64,
    secs: f64,
    busy: u64,
    lost: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
}

fn run_claims(db: &Db, threads: usize, method: Method) -> Res<Run> {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (db, barrier) = (db.clone(), barrier.clone());
        handles.push(std::thread::spawn(move || -> Res<(Vec<f64>, Stats)> {
            let mut conn = db.conn()?;
            let mut stats = Stats::default();
            let mut times = Vec::new();
            barrier.wait();
            loop {
                let t = Instant::now();
                let got = match method {
                    Method::Claim => match claim_tx(&mut conn) {
                        Ok(job) => job.is_some(),
                        Err(e) => {
                            stats.errors += 1;
                            if stats.errors >= MAX_ERRORS {
                                return Err(e.into());
                            }
                            continue;
                        }
                    },
                    Method::Naive => naive_claim(&mut conn, &mut stats)?,
                };
                if !got {
                    break;
                }
                times.push(ms(t.elapsed()));
            }
            Ok((times, stats))
        }));
    }
    barrier.wait();
    let t0 = Instant::now();
    let mut all = Vec::new();
    let mut total = Stats::default();
    for h in handles {
        let (times, stats) = h.join().map_err(|_| "claim thread panicked")??;
        all.extend(times);
        total.busy += stats.busy;
        total.lost += stats.lost;
        total.errors += stats.errors;
    }
    let secs = t0.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    Ok(Run {
        claims: all.len() as u64,
        secs,
        busy: total.busy,
        lost: total.lost,
        errors: total.errors,
        p50_ms: pct(&all, 50.0),
        p99_ms: pct(&all, 99.0),
    })
}

fn check_all_claimed(db: &Db, q: usize) -> Res<()> {
    let conn = db.conn()?;
    let (running, queued, once): (i64, i64, i64) = conn.query_row(
        "SELECT SUM(status = 'running'), SUM(status = 'queued'), \
         (SELECT COUNT(*) FROM (SELECT id FROM jobs WHERE attempt_count = 1)) FROM jobs",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if running as usize != q || queued != 0 || once as usize != q {
        return Err(format!(
            "after the run: {running} running, {queued} queued, {once} claimed once (want {q})"
        )
        .into());
    }
    Ok(())
}

/// The plan of `store::claim`'s statement (its text copied here: `claim` builds it inside).
fn query_plan(db: &Db) -> Res<Vec<String>> {
    let conn = db.conn()?;
    let sql = format!(
        "EXPLAIN QUERY PLAN UPDATE jobs SET status = 'running', attempt_count = attempt_count + 1, \
         locked_at = ?1, locked_by = ?2, heartbeat_at = ?1, started_at = COALESCE(started_at, ?1), \
         output_tail = NULL WHERE id = ({NAIVE_SELECT}) RETURNING id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![util::now(), WORKER_ID], |r| r.get::<_, String>(3))?;
    let plan = rows.collect::<Result<_, _>>()?;
    // `store::claim` prepares its statement on every call (no statement cache): its cost.
    let claim_sql = format!(
        "UPDATE jobs SET status = 'running', attempt_count = attempt_count + 1, \
         locked_at = ?1, locked_by = ?2, heartbeat_at = ?1, started_at = COALESCE(started_at, ?1), \
         output_tail = NULL WHERE id = ({NAIVE_SELECT}) RETURNING id, job_type, status, site_id, \
         environment_id, node_id, backup_id, payload_json, attempt_count, max_attempts, error_code, \
         error_message, cancel_requested, locked_by"
    );
    let t = Instant::now();
    for _ in 0..1000 {
        drop(conn.prepare(&claim_sql)?);
    }
    let us = t.elapsed().as_secs_f64() * 1e3; // per prepare, in µs (1000 runs)
    println!("  preparing the claim statement: {us:.1} µs (store::claim prepares it per call)");
    println!("RESULT claim_prepare_us={us:.1}");
    Ok(plan)
}

fn throughput(args: &Args) -> Res<()> {
    let q = args.queue;
    let mut variants = vec![(false, "schema as shipped")];
    if args.what_if_index {
        variants.push((
            true,
            "what-if: + partial index jobs(created_at) WHERE status = 'queued'",
        ));
    }
    for (extra_index, label) in variants {
        let tag = if extra_index { "_idx" } else { "" };
        println!(
            "\n[throughput] {q} queued jobs (distinct sites/nodes), each claim its own transaction; \
             {label}"
        );
        let mut plan_printed = false;
        for &threads in &args.threads {
            let mut rates = HashMap::new();
            for &method in &args.methods {
                let (_dir, db, seed) = seeded_db(args, extra_index)?;
                if !plan_printed {
                    let plan = query_plan(&db)?;
                    println!("  plan of the claim statement:");
                    for line in plan {
                        println!("    {line}");
                    }
                    plan_printed = true;
                }
                let r = run_claims(&db, threads, method)?;
                check_all_claimed(&db, q)?;
                let rate = r.claims as f64 / r.secs;
                let name = match method {
                    Method::Claim => "claim",
                    Method::Naive => "naive",
                };
                rates.insert(name, rate);
                println!(
                    "  {name:5} {threads} thread(s): {} claims in {:.2} s = {rate:.0} claims/s \
                     (per claim p50 {:.3} ms, p99 {:.3} ms; SQLITE_BUSY retries {}, lost races {}, \
                     failed claim transactions {}; seeding {:.1} s)",
                    r.claims,
                    r.secs,
                    r.p50_ms,
                    r.p99_ms,
                    r.busy,
                    r.lost,
                    r.errors,
                    seed.as_secs_f64()
                );
                let k = format!("{name}{tag}_t{threads}");
                println!(
                    "RESULT {k}_per_s={rate:.0} {k}_p50_ms={:.3} {k}_p99_ms={:.3} {k}_busy={} \
                     {k}_lost={} {k}_errors={}",
                    r.p50_ms, r.p99_ms, r.busy, r.lost, r.errors
                );
            }
            if let (Some(c), Some(n)) = (rates.get("claim"), rates.get("naive")) {
                let ratio = c / n;
                println!("  claim / naive at {threads} thread(s): {ratio:.2}x");
                println!("RESULT ratio{tag}_t{threads}={ratio:.2}");
            }
        }
    }
    Ok(())
}
