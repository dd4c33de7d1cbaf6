package jobsched

import (
	"fmt"
	"maps"
	"slices"
)

// MaxFairnessWeight bounds a weight of Category.FairnessWeights.
const MaxFairnessWeight = 1000

// checkFairnessWeights validates a category's fairness weights (field names them): keys of at
// most MaxFairnessKeyLength bytes, weights 1..MaxFairnessWeight. Keys are checked in order, so
// the error names the same key every time.
func checkFairnessWeights(w map[string]int, field string) error {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := fmt.Sprintf("%s[%q]", field, k)
		switch v := w[k]; {
		case len(k) > MaxFairnessKeyLength:
			return invalid(f, "a key longer than %d bytes", MaxFairnessKeyLength)
		case v < 1 || v > MaxFairnessWeight:
			return invalid(f, "want a weight of 1..%d, got %d", MaxFairnessWeight, v)
		}
	}
	return nil
}

// sameCategory reports whether two categories have the same settings (Category holds a map,
// so == does not compile: its comparable fields are compared as one struct).
func sameCategory(a, b Category) bool {
	type plain struct {
		Name                                       string
		Priority, MinWorkers, MaxWorkers, QueueLim int
		RateLimit                                  float64
		RateBurst                                  int
	}
	p := func(c Category) plain {
		return plain{c.Name, c.Priority, c.MinWorkers, c.MaxWorkers, c.QueueLimit, c.RateLimit, c.RateBurst}
	}
	return p(a) == p(b) && maps.Equal(a.FairnessWeights, b.FairnessWeights)
}
