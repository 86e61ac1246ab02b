package activities

import (
	"os"
	"testing"

	"github.com/opsrunbook/runbook/activities/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.Remove() // the S3 server binary tests built, if any
	os.Exit(code)
}
