package kinds

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jobsched/jobsched"
)

// SleepArgs are the args of the sleep kind.
type SleepArgs struct {
	MS        float64 `json:"ms"`
	FailRate  float64 `json:"fail_rate"`
	PanicRate float64 `json:"panic_rate"`
	// Seed makes failures and panics deterministic: the same seed, job and attempt give the same
	// outcome. 0 draws at random.
	Seed uint64 `json:"seed"`
}

// readSleep decodes and checks sleep's args.
func readSleep(args json.RawMessage) (SleepArgs, error) {
	a, ok := parseSleepFast(args)
	if !ok {
		var slow SleepArgs // its own variable: decodeArgs takes its address, a stays on the stack
		if err := decodeArgs(args, &slow); err != nil {
			return slow, err
		}
		a = slow
	}
	switch {
	case a.MS < 0 || a.MS > float64(MaxSleep.Milliseconds()):
		return a, &jobsched.InvalidError{Field: "ms", Reason: fmt.Sprintf("must be 0..%d, got %g", MaxSleep.Milliseconds(), a.MS)}
	case a.FailRate < 0 || a.FailRate > 1:
		return a, &jobsched.InvalidError{Field: "fail_rate", Reason: fmt.Sprintf("must be 0..1, got %g", a.FailRate)}
	case a.PanicRate < 0 || a.PanicRate > 1:
		return a, &jobsched.InvalidError{Field: "panic_rate", Reason: fmt.Sprintf("must be 0..1, got %g", a.PanicRate)}
	}
	return a, nil
}

// CheckSleep is sleep's args check at enqueue.
func CheckSleep(args json.RawMessage) error {
	_, err := readSleep(args)
	return err
}

// Sleep waits ms milliseconds, then fails with probability fail_rate or panics with
// probability panic_rate. Its result is {"slept_ms": ms} (a json.RawMessage).
func Sleep(ctx context.Context, j *jobsched.Job) (any, error) {
	a, err := readSleep(j.Args)
	if err != nil {
		return nil, argsError("sleep", err)
	}
	d := time.Duration(a.MS * float64(time.Millisecond))
	var roll float64
	if a.Seed != 0 {
		// rand.New(rand.NewPCG(a.Seed^fnv64a(j.ID), attempt)).Float64(), without allocating.
		var src rand.PCG
		src.Seed(a.Seed^fnv64a(j.ID), uint64(j.Attempt))
		roll = float64(src.Uint64()<<11>>11) / (1 << 53)
	} else {
		roll = rand.Float64()
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
	}
	switch {
	case roll < a.PanicRate:
		panic(fmt.Sprintf("sleep: planned panic (panic_rate %g)", a.PanicRate))
	case roll < a.PanicRate+a.FailRate:
		return nil, fmt.Errorf("sleep: planned failure (fail_rate %g)", a.FailRate)
	}
	if a.MS == 0 {
		return sleptZero, nil
	}
	return sleptResult(a.MS), nil
}

// sleptZero is the result of a sleep of 0 ms, boxed once: returning it allocates nothing. A
// result is never written to (the store copies it), so every job may share it.
var sleptZero any = sleptResult(0)

// fnv64a is hash/fnv's 64-bit FNV-1a of s.
func fnv64a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// sleptResult is sleep's result, {"slept_ms": ms}, without marshalling a map.
func sleptResult(ms float64) json.RawMessage {
	v := []byte("0")
	if ms != 0 {
		var err error
		if v, err = json.Marshal(ms); err != nil { // ms is finite: readSleep checked its range
			v = []byte("null")
		}
	}
	b := make([]byte, 0, len(`{"slept_ms":}`)+len(v))
	b = append(b, `{"slept_ms":`...)
	b = append(b, v...)
	return append(b, '}')
}
