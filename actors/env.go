package actors

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/jobsched/jobsched/persistence"
)

// Runner runs one attempt of a job to its end and records the outcome. It runs on a goroutine
// of the Worker and returns the handler's panic text, if it panicked.
type Runner interface {
	Run(ctx context.Context, job *persistence.Job) (panicText string)
}

// Clock is time as the actors see it; tests give a fake one.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a stoppable timer of a Clock.
type Timer interface{ Stop() bool }

// RealClock is the wall clock.
type RealClock struct{}

// Now implements Clock.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc implements Clock.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Category is a category's settings as the actors use them.
type Category struct {
	Name       string
	Priority   int
	MinWorkers int
	MaxWorkers int
	// RateLimit is the jobs started per second (0: unlimited), with bursts of RateBurst.
	RateLimit float64
	RateBurst int
	// FairnessWeights: the jobs a fairness key is served per round-robin turn (default 1).
	FairnessWeights map[string]int
}

// CategoryStats are the live figures of a category, written by its actors and read by anyone.
type CategoryStats struct {
	Allocated atomic.Int64 // workers the registry keeps
	Busy      atomic.Int64 // workers running a job
	Paused    atomic.Bool
	InMemory  atomic.Int64 // ready jobs the Fifo holds in memory
	Resizes   atomic.Int64 // resizes applied by the balancer
	Rescued   atomic.Int64 // queued jobs a Fifo found in the store that no message had brought
	Parked    atomic.Int64 // jobs a Fifo keeps waiting for a concurrency-key slot
	// Dispatched counts the jobs the registry handed to a worker: the balancer's measure of the
	// category's recent work (Load.Recent).
	Dispatched atomic.Int64

	// lowWater: no queued job of the category has a sequence number at or below it (the Fifo's
	// rescans start there). It outlives a Fifo, so a restarted one starts from it too.
	lowWater atomic.Uint64
	// handoffs: the category's hand-offs an attempt may still begin (handoff.go), kept across
	// the Fifo's and the Workers' incarnations.
	handoffs handoffs
}

// Event is something the tree did that observers (dashboard, metrics) may show.
type Event struct {
	Type     string    `json:"type"` // "resize"
	Category string    `json:"category"`
	From     int       `json:"from"`
	To       int       `json:"to"`
	At       time.Time `json:"at"`
}

// Env is what the actors need from the scheduler that wires them.
type Env struct {
	System *actor.ActorSystem
	Store  persistence.Store
	Runner Runner
	Clock  Clock
	Log    *slog.Logger
	// Categories in configuration order, and Stats per category name (every category has an
	// entry): the tree's categories at Start. Live holds those in force from then on (Spec makes
	// it from these when it is nil).
	Categories []Category
	Stats      map[string]*CategoryStats
	Live       *Live
	// Budget is the global worker budget; BalanceInterval the balancer's period.
	Budget          int
	BalanceInterval time.Duration
	// FifoMemory is how many ready jobs a Fifo keeps in memory; the rest wait in the store.
	FifoMemory int
	// Go runs f on a goroutine the scheduler tracks (it waits for them all at Close).
	Go func(f func())
	// OnEvent, if set, receives the tree's events; it must not block.
	OnEvent func(Event)
	// KeyLimits holds, per job kind, how many jobs sharing a concurrency key may run at once
	// in a category (absent or 0: unlimited).
	KeyLimits map[string]int
	// WorkerIntensity is how many worker restarts per second a category tolerates before its
	// Workers supervisor escalates (handler panics restart workers).
	WorkerIntensity int
	// PollInterval is how often a Fifo and the Waiter look for their work in the store again,
	// whatever messages said (default 1s). A hand-off that has not ended after 5 intervals is
	// checked against the store.
	PollInterval time.Duration
	// Inserts tracks the inserts in flight (the scheduler begins and ends each); nil means
	// none are tracked, and the Fifos' low-water marks never move.
	Inserts *InsertGate
	// Claims, if set, makes each Fifo take its jobs from a store shared by several nodes by
	// claims (fifo_claim.go) instead of reading its queue; nil on the embedded store.
	Claims Claims
}

// Claims is how a Fifo takes its jobs from a store shared by several nodes
// (persistence.Claimer). A claimed job is stored as running, held by this node, before the
// Fifo sees it; from then on it must run here or be given back to its queue.
type Claims interface {
	// Claim takes up to n ready jobs of a category from the store and stores their start.
	Claim(ctx context.Context, cat string, n int) ([]*persistence.Job, error)
	// GiveBack returns a claimed job that no worker took to its queue, its start undone, and
	// reports whether it did; false means a worker took it (its attempt runs) or it was given
	// back already.
	GiveBack(id string) bool
	// GiveBackAll gives back every claimed job of a category that no worker took (the jobs an
	// earlier incarnation of its Fifo held).
	GiveBackAll(cat string)
}

// epochs numbers actor incarnations: a read started by one incarnation carries its epoch, and
// the next incarnation (same PID) ignores it.
var epochs atomic.Uint64

func (e *Env) pollInterval() time.Duration {
	if e.PollInterval <= 0 {
		return time.Second
	}
	return e.PollInterval
}

// RootName is the name of the root supervisor; every PID id in the tree starts with it.
const RootName = "jobsched"

// PIDs of the tree's actors, by their fixed names.
func (e *Env) pid(id string) *actor.PID { return actor.NewPID(e.System.Address(), id) }

// DispatcherPID is the Dispatcher's PID.
func (e *Env) DispatcherPID() *actor.PID { return e.pid(RootName + "/dispatcher") }

// WaiterPID is the Waiter's PID.
func (e *Env) WaiterPID() *actor.PID { return e.pid(RootName + "/waiter") }

// BalancerPID is the WorkerBalancer's PID.
func (e *Env) BalancerPID() *actor.PID { return e.pid(RootName + "/balancer") }

func (e *Env) categoryID(cat string) string { return RootName + "/categories/" + cat }

// FifoPID is the PID of a category's Fifo.
func (e *Env) FifoPID(cat string) *actor.PID { return e.pid(e.categoryID(cat) + "/fifo") }

// RegistryPID is the PID of a category's WorkerRegistry.
func (e *Env) RegistryPID(cat string) *actor.PID { return e.pid(e.categoryID(cat) + "/registry") }

// WorkersPID is the PID of a category's Workers supervisor.
func (e *Env) WorkersPID(cat string) *actor.PID { return e.pid(e.categoryID(cat) + "/workers") }

func (e *Env) send(pid *actor.PID, msg any) { e.System.Root.Send(pid, msg) }

func (e *Env) event(ev Event) {
	if e.OnEvent != nil {
		ev.At = e.Clock.Now()
		e.OnEvent(ev)
	}
}

// workerSeq names workers: names are never reused within a process, so a worker added while an
// old one is still stopping never collides with it.
var workerSeq atomic.Uint64

func workerName() string { return "w" + strconv.FormatUint(workerSeq.Add(1), 10) }

// loadCtx bounds the store reads actors start.
func loadCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Minute)
}
