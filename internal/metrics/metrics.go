// Package metrics exposes a scheduler's figures to Prometheus: counters and histograms fed by
// the scheduler's Observer hooks, and gauges read from the scheduler at each scrape.
package metrics

import (
	"net/http"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/persistence"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is a jobsched.Observer that records into its own registry.
type Metrics struct {
	reg       *prometheus.Registry
	enqueued  *prometheus.CounterVec
	finished  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	queueWait *prometheus.HistogramVec
	syncs     prometheus.Histogram
	syncBatch prometheus.Histogram
	sched     *jobsched.Scheduler
	kinds     map[string]bool // the kind label's values; any other kind counts as OtherKind
}

// OtherKind is the kind label of jobs whose kind had no handler when Attach ran: the label
// takes only the registered kinds, never a caller's string.
const OtherKind = "other"

var _ jobsched.Observer = (*Metrics)(nil)

// New makes the metrics; call Attach once the scheduler exists, and set the Metrics as the
// scheduler's Config.Observer.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.enqueued = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobsched_jobs_enqueued_total",
		Help: "Jobs stored by Enqueue, by category and kind."}, []string{"category", "kind"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobsched_job_attempts_finished_total",
		Help: "Attempts ended, by category, kind and the state the job went to (succeeded, retrying, dead, cancelled, queued)."},
		[]string{"category", "kind", "state"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jobsched_job_duration_seconds",
		Help: "How long an attempt ran.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 11)}, []string{"category", "kind"})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "jobsched_job_queue_wait_seconds",
		Help: "From when a job was due to when its attempt started.", Buckets: prometheus.ExponentialBuckets(0.0001, 4, 11)}, []string{"category"})
	m.syncs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "jobsched_store_sync_seconds",
		Help: "Latency of the store's group-commit disk syncs.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)})
	m.syncBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "jobsched_store_sync_writes",
		Help: "Writes covered by one disk sync.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)})
	m.reg.MustRegister(m.enqueued, m.finished, m.duration, m.queueWait, m.syncs, m.syncBatch,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Attach adds the gauges read from s at each scrape and fixes the kind label's values to the
// kinds s has handlers for: call it after registering them, before Start.
func (m *Metrics) Attach(s *jobsched.Scheduler) {
	m.sched = s
	m.kinds = map[string]bool{}
	for _, k := range s.HandledKinds() {
		m.kinds[k] = true
	}
	m.reg.MustRegister(&gauges{s: s})
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// JobEnqueued implements jobsched.Observer.
func (m *Metrics) JobEnqueued(j *jobsched.Job) {
	m.enqueued.WithLabelValues(j.Category, m.kind(j)).Inc()
}

// kind is j's kind label: its kind if registered, else OtherKind.
func (m *Metrics) kind(j *jobsched.Job) string {
	if m.kinds[j.Kind] {
		return j.Kind
	}
	return OtherKind
}

// JobStarted implements jobsched.Observer.
func (m *Metrics) JobStarted(j *jobsched.Job, wait time.Duration) {
	m.queueWait.WithLabelValues(j.Category).Observe(max(wait, 0).Seconds())
}

// JobFinished implements jobsched.Observer.
func (m *Metrics) JobFinished(j *jobsched.Job, run time.Duration) {
	m.finished.WithLabelValues(j.Category, m.kind(j), string(j.State)).Inc()
	m.duration.WithLabelValues(j.Category, m.kind(j)).Observe(run.Seconds())
}

// StoreSynced implements jobsched.Observer.
func (m *Metrics) StoreSynced(d time.Duration, writes int) {
	m.syncs.Observe(d.Seconds())
	m.syncBatch.Observe(float64(writes))
}

// gauges reads the scheduler's current figures at scrape time.
type gauges struct{ s *jobsched.Scheduler }

var (
	descJobs      = prometheus.NewDesc("jobsched_jobs", "Unfinished jobs by category and state.", []string{"category", "state"}, nil)
	descAllocated = prometheus.NewDesc("jobsched_workers_allocated", "Workers the balancer gives a category.", []string{"category"}, nil)
	descBusy      = prometheus.NewDesc("jobsched_workers_busy", "Workers running a job.", []string{"category"}, nil)
	descPaused    = prometheus.NewDesc("jobsched_category_paused", "1 if the category is paused.", []string{"category"}, nil)
	descResizes   = prometheus.NewDesc("jobsched_balancer_resizes_total", "Resizes the balancer applied to a category.", []string{"category"}, nil)
	descRestarts  = prometheus.NewDesc("jobsched_actor_restarts_total", "Actor restarts by role.", []string{"role"}, nil)
	descCommits   = prometheus.NewDesc("jobsched_store_commits_total", "Transactions the store committed.", nil, nil)
	descSyncs     = prometheus.NewDesc("jobsched_store_syncs_total", "Disk syncs the store made.", nil, nil)
	descReady     = prometheus.NewDesc("jobsched_ready", "1 when the scheduler is ready.", nil, nil)
)

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descAllocated, descBusy, descPaused, descResizes, descRestarts, descCommits, descSyncs, descReady} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	for _, c := range g.s.Categories() {
		for _, st := range persistence.States {
			if !st.Finished() {
				ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(c.Counts[st]), c.Name, string(st))
			}
		}
		ch <- prometheus.MustNewConstMetric(descAllocated, prometheus.GaugeValue, float64(c.Allocated), c.Name)
		ch <- prometheus.MustNewConstMetric(descBusy, prometheus.GaugeValue, float64(c.Busy), c.Name)
		paused := 0.0
		if c.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, paused, c.Name)
		ch <- prometheus.MustNewConstMetric(descResizes, prometheus.CounterValue, float64(c.Resizes), c.Name)
	}
	for role, n := range g.s.RestartsByRole() {
		ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(n), role)
	}
	st := g.s.StoreStats()
	ch <- prometheus.MustNewConstMetric(descCommits, prometheus.CounterValue, float64(st.Commits))
	ch <- prometheus.MustNewConstMetric(descSyncs, prometheus.CounterValue, float64(st.Syncs))
	ready := 0.0
	if g.s.Ready() {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
}
