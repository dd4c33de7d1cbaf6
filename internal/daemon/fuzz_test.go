package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobsched/jobsched"
	"github.com/stretchr/testify/require"
)

// FuzzConfig throws arbitrary YAML at the config reader and the checks behind it: never a
// panic; a refused value names its key.
func FuzzConfig(f *testing.F) {
	for _, seed := range []string{
		"", "listen: 127.0.0.1:7420\nworkers: 4\n", "categories:\n  - name: a\n    max_workrs: 3\n",
		"exec:\n  allow: [/bin/echo]\n  env: [GREETING]\n  dir_roots: [/tmp]\n", "http:\n  allow_hosts: [10.0.0.0/8, hooks.internal]\n",
		"allowed_hosts: [jobs.example.com]\n", "periodic:\n  - cron: \"*/5 * * * *\"\n    kind: http\n    args: {url: \"http://x\"}\n",
		"retention: 1ns\n", "balance_interval: forever\n", "workers: -1\n", "kinds:\n  - name: http\n    timeout: 30s\n",
		"categories: {a: 1}\n", "&a [*a]\n", "exec:\n  env: [\"A=B\"]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		c, err := Load(strings.NewReader(yaml), "fuzz.yaml")
		if err != nil {
			require.Contains(t, err.Error(), "fuzz.yaml")
			return
		}
		sc, err := c.SchedulerConfig()
		if err == nil {
			_, err = jobsched.New(sc)
		}
		var inv *jobsched.InvalidError
		if err != nil && errors.As(err, &inv) {
			require.NotEmpty(t, inv.Field, "a refused value names its key: %v", err)
		}
	})
}
