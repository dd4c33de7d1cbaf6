package daemon

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigReadsFairnessWeights(t *testing.T) {
	c, err := Load(strings.NewReader(`
categories:
  - name: reports
    fairness_weights: {acme: 3, "": 2}
`), "test.yaml")
	require.NoError(t, err)
	sc, err := c.SchedulerConfig()
	require.NoError(t, err)
	require.Equal(t, map[string]int{"acme": 3, "": 2}, sc.Categories[0].FairnessWeights)
}
