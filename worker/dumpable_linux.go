package worker

import "syscall"

// prSetDumpable is prctl's PR_SET_DUMPABLE.
const prSetDumpable = 4

// protectProcess makes the worker process non-dumpable: its /proc files
// (environ, mem, cmdline...) become root's, so a step's process, which
// runs as the same user, cannot read the worker's environment (its
// secrets and settings) through /proc/$PPID/environ, nor ptrace it. The
// processes the worker starts are dumpable again after exec; they get
// only the environment the activities give them.
func protectProcess() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); errno != 0 {
		return errno
	}
	return nil
}
