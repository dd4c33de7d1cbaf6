package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one versioned schema change, from migrations/<version>_<name>.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ErrSchemaTooNew: the database was migrated by a newer jobsched than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this jobsched")

// Migrations lists the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	paths, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, p := range paths {
		base := strings.TrimSuffix(strings.TrimPrefix(p, "migrations/"), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: want <version>_<name>.sql", p)
		}
		b, err := migrationFiles.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Version < out[b].Version })
	return out, nil
}

// Advisory lock keys (pg_advisory_xact_lock): one for migrations, one for maintenance.
const (
	lockMigrate     int64 = 0x6a6f627363680001 // "jobsch" + 1
	lockMaintenance int64 = 0x6a6f627363680002
)

// Migrate applies the embedded migrations the database lacks, in one transaction under an
// advisory lock, so nodes starting together apply each migration once. It returns the versions
// it applied. A database migrated further than this binary knows is refused (ErrSchemaTooNew).
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]int, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockMigrate); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS jobsched_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create jobsched_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, "SELECT version FROM jobsched_migrations")
		if err != nil {
			return fmt.Errorf("read jobsched_migrations: %w", err)
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return fmt.Errorf("read jobsched_migrations: %w", err)
		}
		have := 0
		for _, v := range done {
			have = max(have, v)
		}
		if latest := all[len(all)-1].Version; have > latest {
			return fmt.Errorf("%w: database at version %d, this binary knows up to %d", ErrSchemaTooNew, have, latest)
		}
		for _, m := range all {
			// Every version not applied yet, even below the highest applied one: branches merged
			// in another order may add a lower version after a higher one ran.
			if slices.Contains(done, m.Version) {
				continue
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO jobsched_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
				return fmt.Errorf("record migration %d: %w", m.Version, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return applied, nil
}

// MigrateDSN connects to dsn, applies the migrations and disconnects (`jobsched migrate`).
func MigrateDSN(ctx context.Context, dsn string) ([]int, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	return Migrate(ctx, pool)
}
