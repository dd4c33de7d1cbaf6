package metrics

import "github.com/prometheus/client_golang/prometheus"

// AttachCluster adds the counters of a node sharing a PostgreSQL store: late starts and
// finishes its store refused (fencing), and jobs its maintenance rescued from dead nodes.
func (m *Metrics) AttachCluster(fenced, rescued func() uint64) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobsched_cluster_fenced_writes_total",
			Help: "Starts and finishes of this node refused because its lease no longer held the job."},
			func() float64 { return float64(fenced()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobsched_cluster_rescued_jobs_total",
			Help: "Running jobs of dead nodes this node's maintenance returned to their queue (or ended)."},
			func() float64 { return float64(rescued()) }))
}
