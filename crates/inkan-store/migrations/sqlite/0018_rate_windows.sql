-- Inkan store, SQLite, migration 18: rates counted across nodes (issue 20; criteria 2.2.1(2),
-- 2.2.3(2)B-1).
--
-- Applied once by src/migrate.rs; never edit a migration that has shipped: add a new file and
-- list it in migrate.rs. Must stay equivalent to ../postgres/0018_rate_windows.sql.
--
-- rate_windows: one-minute windows that every node counts in (inkan-server `auth::limiter`):
-- failed sign-in attempts and OAuth2 authorization requests per source address, and a system
-- client's signatures per key under its standing approval's rate. A window starts at its slot's
-- first use and is taken from by one conditional upsert, so nodes counting at once never admit
-- more than its maximum together. Ended windows are purged by housekeeping; nothing here is
-- part of a backup.
CREATE TABLE rate_windows (
    slot         TEXT NOT NULL PRIMARY KEY,
    window_start INTEGER NOT NULL,
    used         INTEGER NOT NULL
) STRICT;

CREATE INDEX rate_windows_by_start ON rate_windows (window_start);
