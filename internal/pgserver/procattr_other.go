//go:build !linux

package pgserver

import "syscall"

// serverAttr: the server runs as cred (nil: as ourselves) in a process group of its own. Only
// Linux can tie its life to ours (Pdeathsig): elsewhere Stop must run.
func serverAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
