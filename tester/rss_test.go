package tester

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseRssAnon(t *testing.T) {
	v, err := parseRssAnon(strings.NewReader("Name:\tjobsched\nVmRSS:\t  90000 kB\nRssAnon:\t   51200 kB\nRssFile:\t 3000 kB\n"))
	require.NoError(t, err)
	require.Equal(t, int64(50<<20), v)
	for name, bad := range map[string]string{
		"missing": "Name:\tx\nVmRSS:\t1 kB\n",
		"unit":    "RssAnon:\t12 MB\n",
		"number":  "RssAnon:\tlots kB\n",
	} {
		_, err := parseRssAnon(strings.NewReader(bad))
		require.Error(t, err, name)
	}
}

func TestRssSamplerReadsAProcess(t *testing.T) {
	s := sampleRss(os.Getpid(), 5*time.Millisecond)
	first := s.peak.Load()
	require.Positive(t, first, "the first sample is taken at once")
	require.GreaterOrEqual(t, s.stop(), mib(first))

	require.Zero(t, sampleRss(0, time.Millisecond).stop(), "no process of ours: nothing sampled")
}
