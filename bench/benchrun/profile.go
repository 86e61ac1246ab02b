package benchrun

import (
	"os"
	"runtime/pprof"
)

// Profile writes a CPU profile of the process to file until the returned
// stop is called; an empty file profiles nothing.
func Profile(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
