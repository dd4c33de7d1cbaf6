//go:build !linux

package tester

import "syscall"

// daemonAttr: only Linux can tie a spawned daemon's life to the tester's (Pdeathsig).
func daemonAttr() *syscall.SysProcAttr { return nil }
