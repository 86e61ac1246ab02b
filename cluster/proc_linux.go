package cluster

import "syscall"

// procAttr puts a process in its own process group, so Ctrl-C on `make
// cluster` reaches the launcher only, which stops the processes in order;
// and kills it when the launcher (or the test) dies, so nothing outlives
// a killed test binary.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
