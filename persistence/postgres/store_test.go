package postgres_test

import (
	"testing"

	"github.com/jobsched/jobsched/internal/pgtest"
	"github.com/jobsched/jobsched/persistence"
	"github.com/jobsched/jobsched/persistence/postgres"
	"github.com/jobsched/jobsched/persistence/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) persistence.Store {
		return open(t, pgtest.DSN(t), postgres.Options{Node: "n1"})
	})
}
