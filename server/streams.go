package server

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Defaults of the limits of event streams (GET /api/v1/runs/:id/events).
const (
	DefaultStreamsPerToken    = 8
	DefaultStreams            = 512
	DefaultStreamWriteTimeout = 10 * time.Second
)

// StreamLimits bound event streams: a token opens at most PerToken at once
// and the API serves at most Total; a stream whose reader takes longer
// than WriteTimeout to take an event is closed, not buffered. Zero fields
// take the defaults.
type StreamLimits struct {
	PerToken, Total int
	WriteTimeout    time.Duration
}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.PerToken <= 0 {
		l.PerToken = DefaultStreamsPerToken
	}
	if l.Total <= 0 {
		l.Total = DefaultStreams
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultStreamWriteTimeout
	}
	return l
}

// streamSlots counts the open streams, in total and per token.
type streamSlots struct {
	mu       sync.Mutex
	total    int
	perToken map[uint]int
}

// acquire takes a slot for token or answers 429; release gives it back.
func (s *streamSlots) acquire(l StreamLimits, token uint) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.perToken[token] >= l.PerToken:
		return nil, problem(http.StatusTooManyRequests, fmt.Sprintf("this token has %d event streams open, the most it may", l.PerToken),
			"close a stream before opening another")
	case s.total >= l.Total:
		return nil, problem(http.StatusTooManyRequests, fmt.Sprintf("the API serves %d event streams, the most it may", l.Total),
			"retry later, or poll GET /api/v1/runs/:id")
	}
	if s.perToken == nil {
		s.perToken = map[uint]int{}
	}
	s.total++
	s.perToken[token]++
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.total--
		if s.perToken[token]--; s.perToken[token] == 0 {
			delete(s.perToken, token)
		}
	}, nil
}

// open is the number of open streams.
func (s *streamSlots) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
