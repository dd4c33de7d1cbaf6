package tester

import "syscall"

// daemonAttr: a spawned daemon is killed if the tester dies (Pdeathsig), so a tester killed
// mid-run leaves no node behind.
func daemonAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
