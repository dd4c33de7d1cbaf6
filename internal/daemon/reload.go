package daemon

import (
	"context"
	"log/slog"
	"reflect"
)

// Reload applies a configuration read again (SIGHUP): its categories, kinds and periodic jobs
// (jobsched.Scheduler.Reload says how). A bad one is refused whole, its error naming the key,
// and the running configuration is left as it was. Keys that only a restart applies (listen,
// auth_token, exec, http, tls...) are reported as such.
func (d *Daemon) Reload(ctx context.Context, cfg Config) ([]string, error) {
	sc, err := cfg.SchedulerConfig()
	if err != nil {
		return nil, err
	}
	if err := checkPeriodicKinds(sc.Periodic, d.sched.HandledKinds()); err != nil {
		return nil, err
	}
	changes, err := d.sched.Reload(ctx, sc)
	if err != nil {
		return changes, err
	}
	old := d.cfg
	for _, k := range []struct {
		key      string
		old, new any
	}{
		{"listen", old.Listen, cfg.Listen}, {"auth_token", old.AuthToken, cfg.AuthToken},
		{"shutdown_grace", old.ShutdownGrace, cfg.ShutdownGrace}, {"exec", old.Exec, cfg.Exec},
		{"http", old.HTTP, cfg.HTTP}, {"allowed_hosts", old.AllowedHosts, cfg.AllowedHosts},
		{"tls_cert", old.TLSCert, cfg.TLSCert}, {"tls_key", old.TLSKey, cfg.TLSKey},
		{"otel", old.OTel, cfg.OTel}, {"memory_limit", old.MemoryLimit, cfg.MemoryLimit},
	} {
		if !reflect.DeepEqual(k.old, k.new) {
			changes = append(changes, k.key+" changed: takes effect at the next start")
			d.log.Info("reload: "+k.key+" changed: takes effect at the next start", slog.String("event", "reload"))
		}
	}
	return changes, nil
}
