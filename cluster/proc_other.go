//go:build !linux

package cluster

import "syscall"

// procAttr puts a process in its own process group, so Ctrl-C on `make
// cluster` reaches the launcher only, which stops the processes in order.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
