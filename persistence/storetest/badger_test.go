package storetest_test

import (
	"testing"

	"github.com/jobsched/jobsched/internal/leaktest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/storetest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestBadgerInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) persistence.Store {
		s, err := persistence.OpenBadger(persistence.BadgerOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

func TestBadgerOnDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) persistence.Store {
		s, err := persistence.OpenBadger(persistence.BadgerOptions{Dir: t.TempDir()})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
