// Package store is omni's PostgreSQL store: customers, campaigns, journeys,
// messages and responses, through a pgx pool, with embedded migrations.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a row asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store wraps the connection pool.
type Store struct {
	pool *pgxpool.Pool
	// db runs the statements: the pool, or a snapshot's transaction.
	db querier
}

// querier is what both a pool and a transaction run statements with.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Snapshot runs fn with a Store whose reads all see the database as it was
// at one moment (a read-only, repeatable-read transaction), so that a view
// assembled from several queries agrees with itself: a message shown sent
// in one part is not pending in another.
func (s *Store) Snapshot(ctx context.Context, fn func(*Store) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(&Store{pool: s.pool, db: tx})
	})
}

// DefaultStatementTimeout bounds a statement unless the database URL sets
// statement_timeout itself: a statement stuck behind a lock or on a sick
// server fails, and its caller retries, instead of holding a connection.
const DefaultStatementTimeout = "30s"

// Open connects to the database at url, creating the database first if the
// server has none of that name.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if _, set := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = DefaultStatementTimeout
	}
	if err := ensureDatabase(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool, db: pool}, nil
}

// OpenWaiting is Open for a process that starts while the database is
// down: it tries again, every few seconds, until the database answers or
// ctx ends, and logs each failure once.
func OpenWaiting(ctx context.Context, url string, logger *slog.Logger) (*Store, error) {
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		s, err := Open(ctx, url)
		if err == nil || !Unavailable(err) {
			return s, err
		}
		logger.Warn("waiting for PostgreSQL", "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// Unavailable says err means the database did not answer (down, refusing
// connections, a connection cut, overloaded, the statement timeout): the
// same call may succeed later.
func Unavailable(err error) bool {
	var noServer *NoServerError
	var connect *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return false
	case errors.As(err, &noServer), errors.As(err, &connect), errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &pgErr):
		// connection exceptions, shutting down, too many connections,
		// statement timeout
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300" || pgErr.Code == "57014"
	}
	return false
}

// NoServerError says no PostgreSQL answers, and what to do about it.
type NoServerError struct {
	Addr string
	Err  error
}

func (e *NoServerError) Error() string {
	return fmt.Sprintf(`no PostgreSQL server answers at %s (%v).
Start one, then try again, for example:
  Debian/Ubuntu:  sudo apt-get install -y postgresql && sudo pg_ctlcluster 15 main start
  macOS:          brew install postgresql@15 && brew services start postgresql@15
  Docker:         docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15
or point DATABASE_URL at a server you have`, e.Addr, e.Err)
}

func (e *NoServerError) Unwrap() error { return e.Err }

// ensureDatabase creates cfg's database when it does not exist, connecting
// to the server's "postgres" database to do so.
func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	if !isCode(err, "3D000") { // invalid_catalog_name: the server answered, the database is missing
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return err
		}
		return &NoServerError{Addr: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Err: err}
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	if err != nil && !isCode(err, "42P04") { // duplicate_database: created meanwhile
		return fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return nil
}

// Migrate applies the embedded migrations that the database lacks. Tern
// holds an advisory lock, so processes starting together migrate once.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), "schema_version")
	if err != nil {
		return err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	if err := m.LoadMigrations(sub); err != nil {
		return err
	}
	return m.Migrate(ctx)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// inTx runs fn in a transaction, committing when it returns nil. A
// transaction PostgreSQL aborts to break a deadlock (two writers taking
// the same counter rows in different orders, say) runs again, up to three
// times: fn must only assign what it returns.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.db, fn)
		if !isCode(err, "40P01") || attempt == 3 { // deadlock_detected
			return err
		}
	}
}

// BadIDs are the distinct values of one kind of id stored that break its
// rule: how many, and the first few.
type BadIDs struct {
	Count    int
	Examples []string
}

// IDsNotMatching finds the distinct values of table.column that do not
// match pattern (a regular expression PostgreSQL reads as Go does, such as
// campaign.CustomerID.Pattern), with up to examples of them. Table and
// column are the caller's constants, never input.
func (s *Store) IDsNotMatching(ctx context.Context, table, column, pattern string, examples int) (BadIDs, error) {
	col, tbl := pgx.Identifier{column}.Sanitize(), pgx.Identifier{table}.Sanitize()
	var b BadIDs
	err := s.db.QueryRow(ctx, `WITH bad AS (SELECT DISTINCT `+col+` AS id FROM `+tbl+` WHERE `+col+` !~ $1)
SELECT (SELECT count(*) FROM bad), ARRAY(SELECT id FROM bad ORDER BY id LIMIT $2)`, pattern, examples).Scan(&b.Count, &b.Examples)
	return b, err
}
