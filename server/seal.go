package server

import (
	"fmt"
	"net/http"

	"github.com/opsrunbook/runbook/attest"
)

// signer returns the key the API seals votes and events with: API.VoteKey
// if set, otherwise one made once and kept in the records, so every
// replica seals with it.
func (a *API) signer() (*attest.Signer, error) {
	if s := a.voteSigner.Load(); s != nil {
		return s, nil
	}
	key := a.VoteKey
	if key == nil {
		var err error
		if key, err = a.Store.VoteKey(attest.GenerateKey); err != nil {
			return nil, problem(http.StatusServiceUnavailable, "the vote-signing key cannot be read: "+err.Error())
		}
	}
	s, err := attest.NewSigner(key)
	if err != nil {
		return nil, fmt.Errorf("vote-signing key: %w", err)
	}
	a.voteSigner.CompareAndSwap(nil, s)
	return a.voteSigner.Load(), nil
}

// voteKey is the public key runs are started with.
func (a *API) voteKey() (string, error) {
	s, err := a.signer()
	if err != nil {
		return "", err
	}
	return s.PublicKey(), nil
}
