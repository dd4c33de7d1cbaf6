package jobsched_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"

	"github.com/jobsched/jobsched"
)

// A kind registered with a Validator has its args checked at enqueue: a job that could never
// run is refused at once, naming the field, instead of failing every attempt for days. With
// RefuseUnknownKinds, a kind without a handler (a typo) is refused too.
func ExampleScheduler_RegisterWithValidator() {
	s, err := jobsched.New(jobsched.Config{RefuseUnknownKinds: true})
	if err != nil {
		panic(err)
	}
	type emailArgs struct {
		To string `json:"to"`
	}
	send := func(ctx context.Context, j *jobsched.Job) (any, error) { return nil, nil }
	check := func(args json.RawMessage) error {
		var a emailArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return &jobsched.InvalidError{Reason: "want {\"to\": address}"}
		}
		if _, err := mail.ParseAddress(a.To); err != nil {
			return &jobsched.InvalidError{Field: "to", Reason: err.Error()}
		}
		return nil
	}
	if err := s.RegisterWithValidator("email", send, check); err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Close(ctx)

	for _, spec := range []jobsched.JobSpec{
		{Kind: "email", Args: json.RawMessage(`{"to":"not an address"}`)},
		{Kind: "emial", Args: json.RawMessage(`{"to":"ann@example.com"}`)},
		{Kind: "email", Args: json.RawMessage(`{"to":"ann@example.com"}`)},
	} {
		_, err := s.Enqueue(ctx, spec)
		var inv *jobsched.InvalidError
		switch {
		case errors.As(err, &inv):
			fmt.Println("refused:", inv.Field)
		case err == nil:
			fmt.Println("enqueued")
		}
	}
	// Output:
	// refused: args.to
	// refused: kind
	// enqueued
}
