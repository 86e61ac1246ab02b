package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// UnavailableError is a database that did not answer: it timed out,
// refused or lost the connection, is shutting down, or (SQLite) is locked
// by another process. The request may succeed later; the API answers 503.
// Its message never carries the DSN or the database user.
type UnavailableError struct {
	Reason string // e.g. "did not answer within 5s", "refused the connection"
	err    error
}

func (e *UnavailableError) Error() string { return "the database " + e.Reason }
func (e *UnavailableError) Unwrap() error { return e.err }

// unavailable types err when it says the database did not answer, and
// returns every other error as it is.
func (s *Store) unavailable(err error) error {
	var ue *UnavailableError
	if err == nil || errors.As(err, &ue) {
		return err
	}
	if reason := faultOf(err, s.shared.timeout().String()); reason != "" {
		return &UnavailableError{Reason: reason, err: err}
	}
	return err
}

// faultOf says how err is a database that did not answer, "" when it is
// not one.
func faultOf(err error, timeout string) string {
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	var ne net.Error
	var le *sqlite.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return "did not answer within " + timeout
	case errors.As(err, &ce):
		return "refused the connection"
	case errors.As(err, &pe):
		// Class 08: connection exception; 57P01-03: shutting down or
		// starting.
		if strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" {
			return "is shutting down or starting (" + pe.Code + ")"
		}
	case errors.As(err, &le):
		if c := le.Code() & 0xff; c == 5 || c == 6 { // SQLITE_BUSY, SQLITE_LOCKED
			return "is locked by another writer"
		}
	case errors.As(err, &ne):
		if ne.Timeout() {
			return "did not answer within " + timeout
		}
		return "lost the connection"
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "conn closed"):
		return "lost the connection"
	}
	return ""
}
