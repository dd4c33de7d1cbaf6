package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDaemonSIGHUPReloadsTheConfigAndRefusesABadOne(t *testing.T) {
	file := filepath.Join(t.TempDir(), "jobsched.yaml")
	write := func(s string) { require.NoError(t, os.WriteFile(file, []byte(s), 0o600)) }
	write(`
workers: 8
categories:
  - name: default
  - name: old
    priority: 2
kinds:
  - name: sleep
    timeout: 10s
`)
	d := startDaemon(t, "", "", "--config", file)
	hup := func() { require.NoError(t, d.cmd.Process.Signal(syscall.SIGHUP)) }

	write(`
workers: 8
categories:
  - name: default
  - name: old
    priority: 5
  - name: fresh
    min_workers: 0
kinds:
  - name: sleep
    timeout: 20s
periodic:
  - cron: "@every 1h"
    kind: sleep
    category: fresh
`)
	hup()
	require.Eventually(t, func() bool {
		c, ok := getCategory(t, d, "fresh")
		return ok && c.MinWorkers == 0 && categoryInTree(t, d, "fresh")
	}, 10*time.Second, 10*time.Millisecond, "the new category is there\n%s", d.logs)
	require.Eventually(t, func() bool { return strings.Contains(d.logs.String(), "periodic jobs: 1") }, 10*time.Second, 10*time.Millisecond)
	old, _ := getCategory(t, d, "old")
	require.Equal(t, 5, old.Priority)
	logs := d.logs.String()
	require.Contains(t, logs, "reload: category fresh added")
	require.Contains(t, logs, "reload: category old changed")
	require.Contains(t, logs, "reload: kind sleep changed")

	// A bad file is refused naming the key, and nothing changes.
	write(`
workers: 8
categories:
  - name: default
  - name: old
    priority: -3
`)
	hup()
	require.Eventually(t, func() bool { return strings.Contains(d.logs.String(), "reload refused") }, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, d.logs.String(), "categories[1].priority")
	old, _ = getCategory(t, d, "old")
	require.Equal(t, 5, old.Priority)
	_, ok := getCategory(t, d, "fresh")
	require.True(t, ok, "a refused reload deletes nothing")

	write("workers: 8\ncategoriez: []\n")
	hup()
	require.Eventually(t, func() bool { return strings.Count(d.logs.String(), "reload refused") == 2 }, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, d.logs.String(), "categoriez")

	// A category dropped from the file goes.
	write(`
workers: 8
categories:
  - name: default
  - name: old
    priority: 5
`)
	hup()
	require.Eventually(t, func() bool {
		_, ok := getCategory(t, d, "fresh")
		return !ok && !categoryInTree(t, d, "fresh")
	}, 10*time.Second, 10*time.Millisecond, "%s", d.logs)
	require.Equal(t, 0, d.stop(), d.logs.String())
}
