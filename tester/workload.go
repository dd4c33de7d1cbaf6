package tester

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// CategoryWeight is one entry of --categories ("a:3,b:1").
type CategoryWeight struct {
	Name   string
	Weight float64
}

// ParseCategories reads "a:3,b:1" (a weight defaults to 1).
func ParseCategories(s string) ([]CategoryWeight, error) {
	var out []CategoryWeight
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, ":")
		cw := CategoryWeight{Name: name, Weight: 1}
		if hasW {
			v, err := strconv.ParseFloat(w, 64)
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("--categories: weight of %q must be a positive number, got %q", name, w)
			}
			cw.Weight = v
		}
		if name == "" {
			return nil, fmt.Errorf("--categories: empty category name in %q", s)
		}
		out = append(out, cw)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--categories: no category in %q", s)
	}
	return out, nil
}

// Dist is a job duration distribution in milliseconds: a fixed value ("5") or an exponential
// with a mean ("exp:20").
type Dist struct {
	Exp  bool
	Mean float64
}

// ParseDist reads "5" or "exp:20".
func ParseDist(s string) (Dist, error) {
	exp := strings.HasPrefix(s, "exp:")
	v, err := strconv.ParseFloat(strings.TrimPrefix(s, "exp:"), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) {
		return Dist{}, fmt.Errorf("--duration-ms: want a number of ms or exp:MEAN, got %q", s)
	}
	return Dist{Exp: exp, Mean: v}, nil
}

func (d Dist) draw(r *rand.Rand) float64 {
	if d.Exp {
		return math.Round(r.ExpFloat64()*d.Mean*100) / 100
	}
	return d.Mean
}

func (d Dist) String() string {
	if d.Exp {
		return fmt.Sprintf("exp:%g", d.Mean)
	}
	return fmt.Sprintf("%g", d.Mean)
}

// pick draws a category by weight.
func pick(cats []CategoryWeight, r *rand.Rand) string {
	total := 0.0
	for _, c := range cats {
		total += c.Weight
	}
	x := r.Float64() * total
	for _, c := range cats {
		if x < c.Weight {
			return c.Name
		}
		x -= c.Weight
	}
	return cats[len(cats)-1].Name
}

// SpreadCategories is n categories of equal weight, c0001..cN: --spread N.
func SpreadCategories(n int) ([]CategoryWeight, error) {
	if n < 1 || n > 100_000 {
		return nil, fmt.Errorf("--spread: want 1..100000 categories, got %d", n)
	}
	out := make([]CategoryWeight, n)
	for i := range out {
		out[i] = CategoryWeight{Name: fmt.Sprintf("c%04d", i+1), Weight: 1}
	}
	return out, nil
}
