-- Pressluft schema v1 (SPEC section 3). Timestamps are UTC ISO-8601 text, booleans 0/1.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE auth_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT
);

CREATE TABLE nodes (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    hostname      TEXT NOT NULL,
    public_ip     TEXT,
    ssh_port      INTEGER NOT NULL DEFAULT 22,
    ssh_user      TEXT NOT NULL DEFAULT 'root',
    ssh_key_path  TEXT,
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active','provisioning','unreachable','decommissioned')),
    is_local      INTEGER NOT NULL DEFAULT 0 CHECK (is_local IN (0,1)),
    state_version INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX nodes_one_local ON nodes(is_local) WHERE is_local = 1;

CREATE TABLE sites (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    slug                   TEXT NOT NULL UNIQUE,
    status                 TEXT NOT NULL DEFAULT 'active'
                           CHECK (status IN ('active','cloning','deploying','restoring','failed')),
    primary_environment_id TEXT,
    state_version          INTEGER NOT NULL DEFAULT 1,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE TABLE environments (
    id                 TEXT PRIMARY KEY,
    site_id            TEXT NOT NULL REFERENCES sites(id),
    name               TEXT NOT NULL,
    slug               TEXT NOT NULL,
    environment_type   TEXT NOT NULL CHECK (environment_type IN ('production','staging','clone')),
    status             TEXT NOT NULL DEFAULT 'active'
                       CHECK (status IN ('active','cloning','deploying','restoring','failed')),
    node_id            TEXT NOT NULL REFERENCES nodes(id),
    preview_url        TEXT NOT NULL,
    current_release_id TEXT,
    files_root         TEXT NOT NULL,
    db_name            TEXT NOT NULL,
    system_user        TEXT NOT NULL,
    state_version      INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (site_id, slug)
);

CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    source_type    TEXT NOT NULL,
    source_ref     TEXT,
    path           TEXT NOT NULL,
    health_status  TEXT NOT NULL DEFAULT 'unknown' CHECK (health_status IN ('unknown','healthy','unhealthy')),
    immutable      INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    job_type      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued','running','succeeded','failed','cancelled')),
    site_id       TEXT REFERENCES sites(id),
    environment_id TEXT REFERENCES environments(id),
    node_id       TEXT REFERENCES nodes(id),
    backup_id     TEXT,
    payload_json  TEXT NOT NULL DEFAULT '{}',
    result_json   TEXT,
    attempt_count INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL DEFAULT 3,
    run_after     TEXT,
    locked_at     TEXT,
    locked_by     TEXT,
    heartbeat_at  TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    error_code    TEXT,
    error_message TEXT,
    output_tail   TEXT
);
CREATE INDEX jobs_queue ON jobs(status, run_after, created_at);
CREATE INDEX jobs_site ON jobs(site_id, status);
CREATE INDEX jobs_node ON jobs(node_id, status);

CREATE TABLE job_steps (
    job_id      TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('running','succeeded','failed','skipped')),
    detail      TEXT,
    bytes_done  INTEGER,
    bytes_total INTEGER,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (job_id, seq)
);

-- Every step and status change, in order; the SSE stream replays from here.
CREATE TABLE job_events (
    job_id     TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    event_json TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE backups (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments(id),
    site_id        TEXT NOT NULL REFERENCES sites(id),
    backup_scope   TEXT NOT NULL CHECK (backup_scope IN ('db','files','full')),
    status         TEXT NOT NULL CHECK (status IN ('pending','running','completed','failed','expired')),
    storage_type   TEXT NOT NULL CHECK (storage_type IN ('local','s3')),
    storage_path   TEXT NOT NULL,
    retention_until TEXT NOT NULL,
    checksum       TEXT,
    size_bytes     INTEGER,
    manifest_json  TEXT,
    job_id         TEXT,
    checkpoint_for_job_id TEXT,
    created_at     TEXT NOT NULL,
    completed_at   TEXT
);
CREATE INDEX backups_env ON backups(environment_id, created_at);

CREATE TABLE audit_logs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT,
    result        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start TEXT NOT NULL,
    locked_until TEXT
);
