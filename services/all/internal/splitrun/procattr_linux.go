package splitrun

import "syscall"

// childAttr puts a child in its own process group, so a Ctrl-C at the
// terminal reaches the launcher alone and it stops the parts in order, and
// kills the child should the launcher itself die without stopping it.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
