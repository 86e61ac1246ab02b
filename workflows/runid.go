package workflows

import (
	"encoding/base32"
	"encoding/binary"
	"time"
)

// runIDEncoding is the alphabet of run ids: digits and lowercase letters
// without i, l, o and u.
var runIDEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// RunID is a run's id: the runbook's name, a dash, and 26 time-ordered
// characters (48 bits of milliseconds since the epoch, then 80 bits of
// entropy), so lowercase letters, digits and dashes only. The API makes
// entropy random; a schedule's launcher derives it from its own run.
func RunID(runbook string, at time.Time, entropy [10]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
	copy(b[6:], entropy[:])
	return runbook + "-" + runIDEncoding.EncodeToString(b[:])
}
