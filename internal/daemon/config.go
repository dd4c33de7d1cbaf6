// Package daemon runs jobsched as a server: its YAML configuration, the scheduler with the
// built-in kinds, the HTTP API, and a graceful lifecycle.
package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jobsched/jobsched"
	"github.com/jobsched/jobsched/internal/kinds"
	"gopkg.in/yaml.v3"
)

// Defaults of the daemon.
const (
	DefaultListen = "127.0.0.1:7420"
	DefaultData   = "./jobsched-data"
)

// Duration reads a YAML duration string ("1s").
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as \"30s\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// Config is the daemon's configuration file (DESIGN.md gives its shape).
type Config struct {
	Listen          string           `yaml:"listen"`
	Data            string           `yaml:"data"`
	AuthToken       string           `yaml:"auth_token"`
	Workers         int              `yaml:"workers"`
	BalanceInterval Duration         `yaml:"balance_interval"`
	Retention       Duration         `yaml:"retention"`
	ShutdownGrace   Duration         `yaml:"shutdown_grace"`
	Categories      []CategoryConfig `yaml:"categories"`
	Kinds           []KindConfig     `yaml:"kinds"`
	Periodic        []PeriodicConfig `yaml:"periodic"`
	Exec            ExecConfig       `yaml:"exec"`
	HTTP            HTTPConfig       `yaml:"http"`
	// AllowedHosts are Host header values accepted besides the listen address and localhost
	// ("name" any port, "name:port" that port).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// TLSCert and TLSKey (PEM files), both set, serve HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// Store: empty or a path means badger (at data:, or at that path); postgres://... is a
	// PostgreSQL database shared by the nodes of a cluster (docs/cluster.md).
	Store string   `yaml:"store"`
	Node  string   `yaml:"node"`  // this node's name in a cluster (default: host name and pid)
	Lease Duration `yaml:"lease"` // a node silent this long is dead (default 15s)
	// OTel configures OpenTelemetry tracing (off by default; otel.go).
	OTel OTelConfig `yaml:"otel"`

	// MemoryLimit, if set, is the Go runtime's soft memory limit (debug.SetMemoryLimit): the
	// GC works harder as the heap nears it. 0: GOMEMLIMIT if set, else a default derived from
	// the badger store's settings (SoftMemoryLimit).
	MemoryLimit ByteSize `yaml:"memory_limit"`
}

// CategoryConfig is one entry of categories.
type CategoryConfig struct {
	Name       string  `yaml:"name"`
	Priority   int     `yaml:"priority"`
	MinWorkers *int    `yaml:"min_workers"` // absent: 1; 0: no worker while idle
	MaxWorkers int     `yaml:"max_workers"`
	QueueLimit int     `yaml:"queue_limit"`
	RateLimit  float64 `yaml:"rate_limit"`
	RateBurst  int     `yaml:"rate_burst"`
	// FairnessWeights: jobs served per round-robin turn, by fairness key (default 1).
	FairnessWeights map[string]int `yaml:"fairness_weights"`
}

// KindConfig is one entry of kinds.
type KindConfig struct {
	Name           string   `yaml:"name"`
	Timeout        Duration `yaml:"timeout"`
	MaxAttempts    int      `yaml:"max_attempts"`
	KeyConcurrency int      `yaml:"key_concurrency"`
}

// PeriodicConfig is one entry of periodic.
type PeriodicConfig struct {
	Name     string         `yaml:"name"`
	Cron     string         `yaml:"cron"`
	Kind     string         `yaml:"kind"`
	Category string         `yaml:"category"`
	Args     map[string]any `yaml:"args"`
}

// ExecConfig is the exec section: the commands exec jobs may run (absolute paths), the
// environment variables they may set, and the directories they may run in.
type ExecConfig struct {
	Allow    []string `yaml:"allow"`
	Env      []string `yaml:"env"`
	DirRoots []string `yaml:"dir_roots"`
}

// HTTPConfig is the http section: host names, addresses or CIDRs the http kind may reach
// besides public addresses.
type HTTPConfig struct {
	AllowHosts []string `yaml:"allow_hosts"`
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Defaults returns the configuration of a daemon started with no file and no flags.
func Defaults() Config {
	return Config{Listen: DefaultListen, Data: DefaultData, ShutdownGrace: Duration(jobsched.DefaultShutdownGrace)}
}

// LoadFile reads a YAML file over the defaults. Unknown keys and bad values are errors that name
// the line and the key.
func LoadFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Load(f, path)
}

// Load reads YAML from r over the defaults; name is used in errors.
func Load(r io.Reader, name string) (Config, error) {
	c := Defaults()
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return c, fmt.Errorf("config %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

// Postgres reports whether the store is a PostgreSQL database (postgres:// or postgresql://).
func (c Config) Postgres() bool {
	return strings.HasPrefix(c.Store, "postgres://") || strings.HasPrefix(c.Store, "postgresql://")
}

// SchedulerConfig turns the file's settings into the scheduler's, checking what only the daemon
// knows; the scheduler checks the rest (jobsched.New), with errors naming the key.
func (c Config) SchedulerConfig() (jobsched.Config, error) {
	sc := jobsched.Config{Dir: c.Data, Workers: c.Workers, BalanceInterval: time.Duration(c.BalanceInterval),
		Retention: time.Duration(c.Retention), RefuseUnknownKinds: true}
	if c.Data == "" {
		return sc, &jobsched.InvalidError{Field: "data", Reason: "must name a directory"}
	}
	if c.ShutdownGrace < 0 {
		return sc, &jobsched.InvalidError{Field: "shutdown_grace", Reason: "must not be negative"}
	}
	for _, cat := range c.Categories {
		c := jobsched.Category{Name: cat.Name, Priority: cat.Priority, MaxWorkers: cat.MaxWorkers,
			QueueLimit: cat.QueueLimit, RateLimit: cat.RateLimit, RateBurst: cat.RateBurst, FairnessWeights: cat.FairnessWeights}
		if cat.MinWorkers != nil {
			c.MinWorkers = jobsched.MinWorkersValue(*cat.MinWorkers)
		}
		sc.Categories = append(sc.Categories, c)
	}
	for _, k := range c.Kinds {
		sc.Kinds = append(sc.Kinds, jobsched.Kind{Name: k.Name, Timeout: time.Duration(k.Timeout),
			MaxAttempts: k.MaxAttempts, KeyConcurrency: k.KeyConcurrency})
	}
	for i, p := range c.Periodic {
		var args []byte
		if p.Args != nil {
			b, err := json.Marshal(p.Args)
			if err != nil {
				return sc, &jobsched.InvalidError{Field: fmt.Sprintf("periodic[%d].args", i), Reason: err.Error()}
			}
			args = b
		}
		sc.Periodic = append(sc.Periodic, jobsched.PeriodicJob{Name: p.Name, Cron: p.Cron, Kind: p.Kind, Category: p.Category, Args: args})
	}
	if c.Lease != 0 && time.Duration(c.Lease) < time.Second {
		return sc, &jobsched.InvalidError{Field: "lease", Reason: fmt.Sprintf("must be at least 1s, got %s", time.Duration(c.Lease))}
	}
	if c.Store != "" && !c.Postgres() {
		sc.Dir = c.Store
	}
	for i, a := range c.Exec.Allow {
		if len(a) == 0 || a[0] != '/' {
			return sc, &jobsched.InvalidError{Field: fmt.Sprintf("exec.allow[%d]", i), Reason: fmt.Sprintf("%q must be an absolute path", a)}
		}
	}
	if err := c.checkSecurity(); err != nil {
		return sc, err
	}
	if err := c.OTel.check(); err != nil {
		return sc, err
	}
	return sc, nil
}

// checkSecurity checks the keys of the security policies: exec.env, exec.dir_roots,
// http.allow_hosts and allowed_hosts.
func (c Config) checkSecurity() error {
	for i, e := range c.Exec.Env {
		if !envNameRE.MatchString(e) {
			return &jobsched.InvalidError{Field: fmt.Sprintf("exec.env[%d]", i), Reason: fmt.Sprintf("%q is not an environment variable name", e)}
		}
	}
	for i, d := range c.Exec.DirRoots {
		if !filepath.IsAbs(d) {
			return &jobsched.InvalidError{Field: fmt.Sprintf("exec.dir_roots[%d]", i), Reason: fmt.Sprintf("%q must be an absolute path", d)}
		}
	}
	for i, h := range c.HTTP.AllowHosts {
		if _, _, err := kinds.ParseAllowHost(h); err != nil {
			return &jobsched.InvalidError{Field: fmt.Sprintf("http.allow_hosts[%d]", i), Reason: err.Error()}
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		field := "tls_key"
		if c.TLSCert == "" {
			field = "tls_cert"
		}
		return &jobsched.InvalidError{Field: field, Reason: "tls_cert and tls_key go together: set both or neither"}
	}
	for i, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/@ \t") {
			return &jobsched.InvalidError{Field: fmt.Sprintf("allowed_hosts[%d]", i), Reason: fmt.Sprintf("%q is not a host or host:port", h)}
		}
	}
	return nil
}
