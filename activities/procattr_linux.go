package activities

import "syscall"

// procAttr puts a command in its own process group (so cancelling kills
// all of it) and has the kernel kill it if the worker dies, so a worker
// killed mid-step leaves no script running on to repeat its effects
// beside the retry. Children the script started in the background are
// not covered.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
