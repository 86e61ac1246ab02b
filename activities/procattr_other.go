//go:build !linux

package activities

import "syscall"

// procAttr puts a command in its own process group, so cancelling kills
// all of it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
