package devserver

import (
	"fmt"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// startLogger is the server's logger: while the server is built and
// started, a Fatal panics (Temporal's "Failed to start gRPC listener",
// when another process took a port picked for it), so that startOnce
// recovers it as errPortTaken and tries other ports. A discarding logger
// let the server go on with a nil listener, to panic later in a goroutine
// of its worker service that nothing recovers (the whole process died).
// Once started, Fatal is the given logger's.
type startLogger struct {
	log.Logger
	starting *atomic.Bool
}

func (l startLogger) Fatal(msg string, tags ...tag.Tag) {
	if l.starting.Load() {
		l.Logger.Error(msg, tags...)
		panic(fmt.Sprintf("temporal: %s", msg))
	}
	l.Logger.Fatal(msg, tags...)
}
