package tester

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jobsched/jobsched"
)

// The --dag workload: the jobs are enqueued as random DAGs of DAGSize jobs over DAGDepth levels,
// each DAG one batch whose entries name their parents as "#N". Entry 0 is the root level; an
// entry of level L > 0 depends on one random entry of level L-1 (so the DAG is DAGDepth deep)
// and on up to two more random entries of earlier levels. The check then reads every job's
// timestamps from the store: no job may have started before each of its parents finished, nor
// run at all after a parent failed (on_parent_failure "cancel", the default).

// Limits of the --dag options.
const (
	maxDAGSize  = jobsched.DefaultMaxBatch
	maxDAGDepth = 1000
	// defaultDAGDepth is the depth of a DAG when DAGDepth is 0.
	defaultDAGDepth = 4
)

// checkDAG reports what is wrong with the --dag options.
func (o *Options) checkDAG() error {
	switch {
	case o.DAGSize == 0:
		return nil // --dag-depth alone has its default of the command line: no DAG
	case o.DAGShape != "" && o.DAGShape != dagRandom && o.DAGShape != dagFanIn && o.DAGShape != dagFanOut:
		return fmt.Errorf("--dag-shape: want %s, %s or %s, got %q", dagRandom, dagFanIn, dagFanOut, o.DAGShape)
	case o.DAGSize < 2 || o.DAGSize > maxDAGSize:
		return fmt.Errorf("--dag-size: want 2..%d jobs per DAG, got %d", maxDAGSize, o.DAGSize)
	case o.DAGDepth == 0:
		o.DAGDepth = min(defaultDAGDepth, o.DAGSize)
		return o.checkDAG()
	case o.DAGDepth < 2 || o.DAGDepth > min(o.DAGSize, maxDAGDepth):
		return fmt.Errorf("--dag-depth: want 2..%d levels (at most --dag-size), got %d", min(o.DAGSize, maxDAGDepth), o.DAGDepth)
	case o.Batch > 1 && o.Batch != o.DAGSize:
		return fmt.Errorf("--batch: a DAG is one batch of --dag-size jobs; leave --batch out")
	case o.Backlog > 0:
		return fmt.Errorf("--backlog and --dag exclude each other")
	}
	return nil
}

// The shapes of --dag-shape.
const (
	dagRandom = "random"
	dagFanIn  = "fan-in"
	dagFanOut = "fan-out"
)

// dagShaped sets the depends_on of specs, one DAG of the given shape (dagDepends for random).
func dagShaped(specs []jobsched.JobSpec, seed uint64, first, depth int, shape string) {
	n := len(specs)
	switch {
	case n < 2:
	case shape == dagFanIn:
		deps := make([]string, n-1)
		for i := range deps {
			deps[i] = fmt.Sprintf("#%d", i)
		}
		specs[n-1].DependsOn = deps
	case shape == dagFanOut:
		for i := 1; i < n; i++ {
			specs[i].DependsOn = []string{"#0"}
		}
	default:
		dagDepends(specs, seed, first, depth)
	}
}

// dagLevel is the level (0..depth-1) of entry i of a DAG of n entries: levels in entry order,
// each one non-empty.
func dagLevel(i, n, depth int) int { return i * depth / n }

// dagDepends sets the depends_on of specs, one DAG (the n = len(specs) jobs from first on; the
// last DAG of a run may be smaller than DAGSize, and then has fewer levels if need be).
func dagDepends(specs []jobsched.JobSpec, seed uint64, first, depth int) {
	n := len(specs)
	depth = min(depth, n)
	if depth < 2 {
		return
	}
	r := rand.New(rand.NewPCG(seed^0xda9, uint64(first)))
	start := make([]int, depth+1) // start[L]: the first entry of level L
	for i := n - 1; i >= 0; i-- {
		start[dagLevel(i, n, depth)] = i
	}
	start[depth] = n
	var parents []int
	for i := start[1]; i < n; i++ {
		l := dagLevel(i, n, depth)
		parents = append(parents[:0], start[l-1]+r.IntN(start[l]-start[l-1]))
		for extra := r.IntN(3); extra > 0; extra-- {
			parents = append(parents, r.IntN(start[l]))
		}
		slices.Sort(parents) // in index order: the same seed gives the same specs
		parents = slices.Compact(parents)
		deps := make([]string, len(parents))
		for k, p := range parents {
			deps[k] = "#" + strconv.Itoa(p)
		}
		specs[i].DependsOn = deps
	}
}

// dagJob is what the order check keeps of a job.
type dagJob struct {
	state    jobsched.State
	started  *time.Time
	finished *time.Time
	parents  []string
}

// dagOrder gathers the jobs of a --dag run, then counts the edges it checked and those whose
// child started too early: before its parent finished, or at all when the parent did not succeed.
type dagOrder map[string]dagJob

func (d dagOrder) add(j *jobsched.Job) {
	d[j.ID] = dagJob{state: j.State, started: j.StartedAt, finished: j.FinishedAt, parents: j.Parents}
}

// check returns the edges checked, the violations, and an example of one.
func (d dagOrder) check() (edges, bad int, example string) {
	for id, c := range d {
		for _, pid := range c.parents {
			p, ok := d[pid]
			if !ok {
				continue // not one of the run's jobs
			}
			edges++
			if c.started == nil {
				continue // never ran: cancelled with its parent
			}
			switch {
			case p.finished == nil, c.started.Before(*p.finished):
				bad++
				if example == "" {
					example = fmt.Sprintf("job %s started at %s, before its parent %s finished (%s)", id, c.started.Format(time.RFC3339Nano), pid, p.state)
				}
			case p.state != jobsched.StateSucceeded:
				bad++
				if example == "" {
					example = fmt.Sprintf("job %s ran although its parent %s ended %s", id, pid, p.state)
				}
			}
		}
	}
	return edges, bad, example
}
