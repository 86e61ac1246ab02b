package server

import (
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/devserver/devtest"
)

func TestMain(m *testing.M) { devtest.Main(m) }

func temporalStack(t *testing.T) client.Client { return devtest.Client(t) }
