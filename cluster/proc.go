package cluster

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one process of the cluster. Its output is kept, and copied to
// Log when set.
type Proc struct {
	Name string
	argv []string
	env  []string
	log  io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  strings.Builder
	mark int // where this run's output starts
	done chan struct{}
	err  error
}

func newProc(name string, log io.Writer, env []string, argv ...string) *Proc {
	return &Proc{Name: name, argv: argv, env: env, log: log}
}

func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(b)
	if p.log != nil {
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if line != "" {
				fmt.Fprintf(p.log, "%-10s| %s", p.Name, line)
			}
		}
	}
	return len(b), nil
}

// Output is what the process (and those it replaced) printed.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Start starts the process, again after Kill.
func (p *Proc) Start() error {
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p, p
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.mark = cmd, done, p.out.Len()
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid is the running process's id.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Exited tells whether the latest start has ended.
func (p *Proc) Exited() bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// Kill is kill -9; it returns once the process is gone.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 0) }

// Stop asks the process to end (SIGTERM) and kills it after grace.
func (p *Proc) Stop(grace time.Duration) { p.signal(syscall.SIGTERM, grace) }

func (p *Proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	if sig != syscall.SIGKILL {
		select {
		case <-done:
			return
		case <-time.After(grace):
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	<-done
}

// Await waits until the output of the process's latest start matches re
// and returns the submatches.
func (p *Proc) Await(re string, timeout time.Duration) ([]string, error) {
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		p.mu.Lock()
		out, done := p.out.String()[p.mark:], p.done
		p.mu.Unlock()
		if m := rx.FindStringSubmatch(out); m != nil {
			return m, nil
		}
		select {
		case <-done:
			return nil, fmt.Errorf("%s exited (%v) before printing %q:\n%s", p.Name, p.err, re, tail(p.Output()))
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not print %q in %s:\n%s", p.Name, re, timeout, tail(p.Output()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail is the end of a long output, for errors.
func tail(s string) string {
	if len(s) > 4000 {
		return "..." + s[len(s)-4000:]
	}
	return s
}
