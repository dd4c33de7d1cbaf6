package pgserver

import "syscall"

// serverAttr: the server runs as cred (nil: as ourselves) in a process group of its own, and if
// this process dies (a test timeout, a kill) the server goes too (Pdeathsig; SIGQUIT is
// PostgreSQL's immediate shutdown, which also ends its backends).
func serverAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
}
