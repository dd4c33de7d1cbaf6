package jobsched_test

import (
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// FuzzCron throws arbitrary cron expressions at the periodic job's check: never a panic; a
// refused one is an *InvalidError naming periodic[0].cron.
func FuzzCron(f *testing.F) {
	for _, seed := range []string{"*/5 * * * *", "@every 10s", "@hourly", "0 0 31 2 *", "* * * *", "@every -1s",
		"60 * * * *", "*/0 * * * *", "1-0 * * * *", "TZ=Europe/Paris 0 9 * * *", "CRON_TZ=x * * * * *", "@every 0s", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		_, err := jobsched.New(jobsched.Config{Periodic: []jobsched.PeriodicJob{{Cron: expr, Kind: "k"}}})
		if err != nil {
			var inv *jobsched.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Contains(t, []string{"periodic[0].cron", "periodic[0].name"}, inv.Field)
		}
	})
}
