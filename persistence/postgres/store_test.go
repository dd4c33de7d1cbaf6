package postgres_test

import (
	"testing"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/jobsched/jobsched/persistence/storetest"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) persistence.Store {
		return open(t, pgtest.DSN(t), postgres.Options{Node: "n1"})
	})
}

// PostgreSQL numbers a job before its transaction commits: the store must say so, or the Fifos
// would keep a low-water mark a late commit can fall below.
func TestSeqNotCommitOrdered(t *testing.T) {
	s := open(t, pgtest.DSN(t), postgres.Options{Node: "n1"})
	require.False(t, persistence.SeqCommitOrdered(s))
	b, err := persistence.OpenBadger(persistence.BadgerOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.True(t, persistence.SeqCommitOrdered(b))
}
