package tester

import (
	"strings"
	"time"

	"github.com/jobsched/jobsched"
)

// Fault is one fault the chaos injected into a cluster node, and how long the cluster took to
// take over that node's running jobs.
type Fault struct {
	Kind string `json:"kind"` // "kill" or "stop"
	Node string `json:"node"`
	// AtS: seconds from the first enqueue to the signal.
	AtS float64 `json:"at_s"`
	// Jobs: the node's attempts cut off by this fault (rescued from its lost lease).
	Jobs int `json:"jobs"`
	// RescueS: from the signal to the first of them back in its queue (the lease ran out and a
	// maintenance round rescued it); RunningS: to the first of them started again (on another
	// node, or the killed node's new process). 0 when the node ran nothing then.
	RescueS  float64 `json:"rescue_s,omitempty"`
	RunningS float64 `json:"running_s,omitempty"`
}

// fault is a Fault as the chaos records it.
type fault struct {
	kind, node string
	at         time.Time
}

// leaseLoss is one attempt rescued from a node whose lease ran out, read from the job's errors.
type leaseLoss struct {
	node       string
	at         time.Time // when the rescue wrote the error
	restart    time.Time // when the job's last attempt started (zero: none after the rescue)
	laterStart bool      // the job was started again after this rescue
}

// leaseLosses returns the attempts of j rescued from a lost lease.
func leaseLosses(j *jobsched.Job) []leaseLoss {
	var out []leaseLoss
	for _, e := range j.Errors {
		node, ok := lostLeaseNode(e.Error)
		if !ok {
			continue
		}
		l := leaseLoss{node: node, at: e.At}
		if j.StartedAt != nil && j.Attempt > e.Attempt && j.StartedAt.After(e.At) {
			l.restart, l.laterStart = *j.StartedAt, true
		}
		out = append(out, l)
	}
	return out
}

// lostLeaseNode reads the node's name out of the error a rescue keeps:
// interrupted: node "n1" lost its lease while this attempt ran.
func lostLeaseNode(msg string) (string, bool) {
	if !strings.HasPrefix(msg, "interrupted: ") || !strings.Contains(msg, "lost its lease") {
		return "", false
	}
	_, rest, ok := strings.Cut(msg, `node "`)
	if !ok {
		return "", false
	}
	node, _, ok := strings.Cut(rest, `"`)
	return node, ok
}

// faultFigures matches the rescues to the faults: a rescue of node N belongs to the latest
// fault of N before it.
func faultFigures(faults []fault, losses []leaseLoss, began time.Time) []Fault {
	out := make([]Fault, len(faults))
	for i, f := range faults {
		out[i] = Fault{Kind: f.kind, Node: f.node, AtS: f.at.Sub(began).Seconds()}
	}
	for _, l := range losses {
		k := -1
		for i, f := range faults {
			if f.node == l.node && !f.at.After(l.at) {
				k = i
			}
		}
		if k < 0 {
			continue // rescued with no fault of ours (a lease that ran out under load)
		}
		o := &out[k]
		o.Jobs++
		if d := l.at.Sub(faults[k].at).Seconds(); o.RescueS == 0 || d < o.RescueS {
			o.RescueS = d
		}
		if l.laterStart {
			if d := l.restart.Sub(faults[k].at).Seconds(); o.RunningS == 0 || d < o.RunningS {
				o.RunningS = d
			}
		}
	}
	return out
}
