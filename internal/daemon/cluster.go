package daemon

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jobsched/jobsched/internal/httpapi"
)

// InfoInterval is how often a cluster node publishes its address, workers and tree in the
// nodes table, for GET /v1/cluster on every node.
var InfoInterval = 2 * time.Second

// nodeInfo is what a node publishes.
type nodeInfo struct {
	Address string          `json:"address"`
	Workers int             `json:"workers"`
	Tree    json.RawMessage `json:"tree,omitempty"`
}

// publishInfo publishes this node's info until stop is closed (on a PostgreSQL store only).
func (d *Daemon) publishInfo(stop <-chan struct{}) {
	t := time.NewTicker(InfoInterval)
	defer t.Stop()
	for {
		info := nodeInfo{Address: d.Addr(), Workers: d.sched.Config().Workers}
		if trees := d.sched.Tree(); len(trees) > 0 {
			if b, err := json.Marshal(trees[0]); err == nil {
				info.Tree = b
			}
		}
		if b, err := json.Marshal(info); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), InfoInterval)
			if err := d.store.SetInfo(ctx, b); err != nil {
				d.log.Warn("publish node info", "err", err)
			}
			cancel()
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// clusterNodes lists the nodes of the shared store for GET /v1/cluster.
func (d *Daemon) clusterNodes(ctx context.Context) ([]httpapi.NodeJSON, error) {
	nodes, err := d.store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]httpapi.NodeJSON, 0, len(nodes))
	for _, n := range nodes {
		var info nodeInfo
		_ = json.Unmarshal(n.Info, &info) // a node that has not published yet shows its name and lease
		exp := n.ExpiresAt.UTC()
		out = append(out, httpapi.NodeJSON{Name: n.Name, Address: info.Address, LastHeartbeat: n.HeartbeatAt.UTC(),
			LeaseExpires: &exp, Workers: info.Workers, Tree: info.Tree})
	}
	return out, nil
}
