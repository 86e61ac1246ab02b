package sso

import (
	"net"
	"testing"

	"github.com/opsrunbook/runbook/sso/ssotest"
)

// The IdP of these tests is ssotest's: zitadel/oidc's example OP on
// 127.0.0.1 with ssotest.Users.

const password = ssotest.Password

type idpClient = ssotest.Client

// startIdP serves the example OP with ssotest.Users and clients until the
// test ends.
func startIdP(t *testing.T, clients ...idpClient) *ssotest.IdP {
	t.Helper()
	return ssotest.Start(t, ssotest.Options{Clients: clients})
}

func listen(t *testing.T) net.Listener { return ssotest.Listen(t) }
