package server

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/opsrunbook/runbook/store"
)

// Defaults of the limits of event streams (GET /api/v1/runs/:id/events).
const (
	DefaultStreamsPerToken    = 8
	DefaultStreams            = 512
	DefaultStreamWriteTimeout = 10 * time.Second
)

// StreamLimits bound event streams: a token (or a console session not made
// from a token) opens at most PerToken at once
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

// streamSlots counts the open streams, in total and per caller.
type streamSlots struct {
	mu       sync.Mutex
	total    int
	perToken map[streamCaller]int
}

// streamCaller is whose slots a stream takes: its token's, for a bearer
// token and a console session made from one; else its console session's
// (an OpenID Connect session has no token, and TokenID 0 would put every
// such session in one shared slot).
type streamCaller struct {
	token, session uint
	user           string
}

func streamCallerOf(id *store.Identity) streamCaller {
	switch {
	case id.TokenID != 0:
		return streamCaller{token: id.TokenID}
	case id.SessionID != 0:
		return streamCaller{session: id.SessionID}
	}
	return streamCaller{user: id.User}
}

// acquire takes a slot for caller or answers 429; release gives it back.
func (s *streamSlots) acquire(l StreamLimits, token streamCaller) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.perToken[token] >= l.PerToken:
		return nil, problem(http.StatusTooManyRequests, fmt.Sprintf("this %s has %d event streams open, the most it may", token.kind(), l.PerToken),
			"close a stream before opening another")
	case s.total >= l.Total:
		return nil, problem(http.StatusTooManyRequests, fmt.Sprintf("the API serves %d event streams, the most it may", l.Total),
			"retry later, or poll GET /api/v1/runs/:id")
	}
	if s.perToken == nil {
		s.perToken = map[streamCaller]int{}
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

func (c streamCaller) kind() string {
	if c.token == 0 && c.session != 0 {
		return "session"
	}
	return "token"
}
