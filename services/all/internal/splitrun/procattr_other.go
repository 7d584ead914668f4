//go:build !linux

package splitrun

import "syscall"

// childAttr keeps the defaults where Linux's parent-death signal is missing:
// a child then shares the terminal's Ctrl-C with the launcher.
func childAttr() *syscall.SysProcAttr { return nil }
