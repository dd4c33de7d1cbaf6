package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"time"
)

// NodeJSON is one node of GET /v1/cluster.
type NodeJSON struct {
	Name          string          `json:"name"`
	Address       string          `json:"address,omitempty"`
	LastHeartbeat time.Time       `json:"last_heartbeat"`
	LeaseExpires  *time.Time      `json:"lease_expires,omitempty"`
	Workers       int             `json:"workers"`
	Tree          json.RawMessage `json:"tree,omitempty"`
}

// ClusterJSON is the body of GET /v1/cluster.
type ClusterJSON struct {
	Nodes []NodeJSON `json:"nodes"`
}

// ClusterFunc lists the nodes sharing the store (Options.Cluster).
type ClusterFunc func(ctx context.Context) ([]NodeJSON, error)

// cluster serves GET /v1/cluster: the nodes of a shared store, or this node alone.
func (a *API) cluster(w http.ResponseWriter, r *http.Request) {
	if a.opt.Cluster != nil {
		nodes, err := a.opt.Cluster(r.Context())
		if err != nil {
			writeError(w, a.log, err, nil)
			return
		}
		writeJSON(w, http.StatusOK, ClusterJSON{Nodes: nodes})
		return
	}
	host, _ := os.Hostname() // a name for the page only
	n := NodeJSON{Name: host, LastHeartbeat: time.Now().UTC(), Workers: a.cfg.Workers}
	if trees := a.s.Tree(); len(trees) > 0 {
		if b, err := json.Marshal(trees[0]); err == nil {
			n.Tree = b
		}
	}
	writeJSON(w, http.StatusOK, ClusterJSON{Nodes: []NodeJSON{n}})
}
