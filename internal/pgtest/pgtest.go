// Package pgtest starts a real PostgreSQL server for tests (internal/pgserver: Debian's
// `postgresql` package, in a temp dir, on a free loopback port, with fsync on). One server serves
// a test package (started on first use, stopped by Main); every test gets a fresh database of its
// own.
//
// When the server binaries are missing the tests that need them skip with a message, unless
// JOBSCHED_REQUIRE_POSTGRES=1 (CI), which makes the absence a failure.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/jobsched/jobsched/internal/pgserver"
)

// RequireEnv is the environment variable that turns a missing PostgreSQL into a test failure.
const RequireEnv = "JOBSCHED_REQUIRE_POSTGRES"

// ErrNoPostgres: no PostgreSQL server binaries were found on this machine.
var ErrNoPostgres = pgserver.ErrNoPostgres

// Server is a running PostgreSQL server owned by the test process.
type Server = pgserver.Server

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
)

// DSN returns a connection string for a fresh, empty database on the package's shared server,
// starting the server on first use. It skips the test when PostgreSQL is not installed (fails
// it when JOBSCHED_REQUIRE_POSTGRES=1).
func DSN(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	dsn, err := s.NewDatabase(context.Background())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// Shared returns the package's server, starting it on first use (see DSN for the skip rule).
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = pgserver.Start(context.Background()) })
	if errors.Is(sharedErr, ErrNoPostgres) {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("pgtest: %v, and %s=1 requires it", sharedErr, RequireEnv)
		}
		t.Skipf("pgtest: %v; skipping (set %s=1 to fail instead)", sharedErr, RequireEnv)
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// Require skips the test when PostgreSQL is not installed (fails it when
// JOBSCHED_REQUIRE_POSTGRES=1), for a test whose program starts a server of its own.
func Require(t testing.TB) {
	t.Helper()
	if _, err := pgserver.BinDir(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("pgtest: %v, and %s=1 requires it", err, RequireEnv)
		}
		t.Skipf("pgtest: %v; skipping (set %s=1 to fail instead)", err, RequireEnv)
	}
}

// M is what Main returns: a testing.M whose Run stops the shared server after the tests.
type M struct{ m *testing.M }

// Main wraps a package's testing.M so that the shared server stops when the tests end:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Main(m), leaktest.Ignore...) }
func Main(m *testing.M) M { return M{m} }

// Run runs the tests, then stops the shared server (if one was started).
func (m M) Run() int {
	code := m.m.Run()
	StopShared()
	return code
}

// StopShared stops the package's shared server, if one was started (for a TestMain that cannot
// use Main).
func StopShared() {
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop: %v\n", err)
		}
		shared = nil
	}
}
