package jobsched_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jobsched/jobsched"
)

// Jobs with a FairnessKey (here, a tenant) are served round-robin across keys within their
// category: globex's one job runs second, not after acme's backlog. The category is paused
// while the jobs are enqueued so that they all wait together, as behind a busy worker.
func ExampleJobSpec_fairnessKey() {
	s, err := jobsched.New(jobsched.Config{Workers: 1})
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var order []string
	_ = s.Register("report", func(ctx context.Context, j *jobsched.Job) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, j.FairnessKey)
		return nil, nil
	})
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		panic(err)
	}
	defer s.Close(ctx)
	if err := s.Pause(jobsched.DefaultCategory); err != nil {
		panic(err)
	}
	var ids []string
	for _, tenant := range []string{"acme", "acme", "acme", "globex"} {
		j, err := s.Enqueue(ctx, jobsched.JobSpec{Kind: "report", FairnessKey: tenant})
		if err != nil {
			panic(err)
		}
		ids = append(ids, j.ID)
	}
	for s.Categories()[0].InMemory < 4 { // polls: the jobs reach the queue after Enqueue returns
		time.Sleep(time.Millisecond)
	}
	if err := s.Resume(jobsched.DefaultCategory); err != nil {
		panic(err)
	}
	for _, id := range ids {
		if _, err := s.Wait(ctx, id); err != nil {
			panic(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	fmt.Println(order)
	// Output: [acme globex acme acme]
}
