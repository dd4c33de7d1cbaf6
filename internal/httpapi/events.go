package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jobsched/jobsched"
)

// MaxJobsPerEvent bounds the jobs one "jobs" event carries; at high rates the stream sends the
// latest state of at most this many changed jobs per interval (events are coalesced).
const MaxJobsPerEvent = 200

// ThroughputInterval is how often the stream sends the "throughput" event.
const ThroughputInterval = 5 * time.Second

// events streams Server-Sent Events: "tree" (the whole tree, when it changed), "categories"
// (every interval), "jobs" (the latest state of the jobs that changed, coalesced) and
// "resize" (balancer decisions) and "throughput" (per category, the attempts that ended in each
// of the last 60 minutes; at connect, then every ThroughputInterval). A client reconnects with the browser's EventSource retry.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	release, err := a.limits.takeStream()
	defer release()
	if err != nil {
		writeError(w, a.log, err, nil)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub, stop := a.s.Subscribe(4096)
	defer stop()

	send := func(event string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if _, err := fmt.Fprint(w, "retry: 1000\n\n"); err != nil {
		return
	}
	var treeVersion uint64
	sendTree := func() error {
		v := a.s.TreeVersion()
		if v == treeVersion {
			return nil
		}
		treeVersion = v
		if nodes := a.s.Tree(); len(nodes) > 0 {
			return send("tree", nodes[0])
		}
		return nil
	}
	if sendTree() != nil || send("categories", a.categoryList()) != nil || send("throughput", a.s.Throughput()) != nil {
		return
	}
	tick := time.NewTicker(a.opt.EventInterval)
	defer tick.Stop()
	minutes := time.NewTicker(ThroughputInterval)
	defer minutes.Stop()
	changed := map[string]*jobsched.Job{}
	var resizes []any
	dropped, resync := false, false
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-sub:
			if !ok {
				_ = send("closing", map[string]string{"reason": "scheduler closed"})
				return
			}
			switch {
			case ev.Resync:
				// Events were dropped for this stream: say so, the page re-reads what it shows.
				dropped = true
				resync = true
			case ev.Job != nil:
				if len(changed) < 10*MaxJobsPerEvent {
					changed[ev.Job.ID] = ev.Job
				} else {
					dropped = true
				}
			case ev.Resize != nil:
				resizes = append(resizes, ev.Resize)
			}
		case <-minutes.C:
			if err := send("throughput", a.s.Throughput()); err != nil {
				return
			}
		case <-tick.C:
			if err := sendTree(); err != nil {
				return
			}
			if err := send("categories", a.categoryList()); err != nil {
				return
			}
			for _, rz := range resizes {
				if err := send("resize", rz); err != nil {
					return
				}
			}
			resizes = resizes[:0]
			if resync {
				if err := send("resync", map[string]bool{"resync": true}); err != nil {
					return
				}
				resync = false
			}
			if len(changed) > 0 {
				jobs := make([]*jobsched.Job, 0, min(len(changed), MaxJobsPerEvent))
				for _, j := range changed {
					if len(jobs) == MaxJobsPerEvent {
						dropped = true
						break
					}
					jobs = append(jobs, j)
				}
				if err := send("jobs", map[string]any{"jobs": jobs, "coalesced": dropped}); err != nil {
					return
				}
				clear(changed)
				dropped = false
			}
		}
	}
}
