package jobschedtest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/jobsched/jobsched"
)

// RequireEnqueuedWith finds the newest job of kind (in category, if not "") whose args equal
// args as JSON (key order and spacing do not matter; args may be any value json.Marshal takes,
// or a json.RawMessage), and returns it, or fails the test listing the args of the jobs of that
// kind it saw.
func RequireEnqueuedWith(t testing.TB, s *jobsched.Scheduler, kind, category string, args any) *jobsched.Job {
	t.Helper()
	wantRaw, err := asJSON(args)
	if err != nil {
		t.Fatalf("jobschedtest: args: %v", err)
	}
	want, err := normalJSON(wantRaw)
	if err != nil {
		t.Fatalf("jobschedtest: args: %v", err)
	}
	var seen []string
	cursor := ""
	for {
		jobs, next, err := s.List(context.Background(), jobsched.ListOptions{Category: category, Kind: kind, Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Fatalf("jobschedtest: list: %v", err)
		}
		for _, j := range jobs {
			got, err := normalJSON(j.Args)
			if err == nil && reflect.DeepEqual(got, want) {
				return j
			}
			if len(seen) < 10 {
				seen = append(seen, string(j.Args))
			}
		}
		if next == "" {
			t.Fatalf("jobschedtest: no job of kind %q (category %q) with args %s; jobs of that kind had args %v", kind, category, wantRaw, seen)
		}
		cursor = next
	}
}

// asJSON returns v's JSON text: v itself if it is JSON text already, else json.Marshal(v).
func asJSON(v any) ([]byte, error) {
	switch b := v.(type) {
	case json.RawMessage:
		return b, nil
	case []byte:
		return b, nil
	}
	return json.Marshal(v)
}

// normalJSON turns JSON text into its generic form (maps, slices, float64...) for comparing.
func normalJSON(raw []byte) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var out any
	err := json.Unmarshal(raw, &out)
	return out, err
}
