package store

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// A delivery is claimed once, however many requests race for it; past
// its expiry it is forgotten.
func TestClaimDeliveryOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		now := time.Now().UTC()
		claim := func(digest string, expires time.Time) error {
			return s.ClaimDelivery(&Delivery{Hook: "grafana", Digest: digest, DeliveryID: "evt-1", SignedAt: now, ExpiresAt: expires})
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = claim("d1", now.Add(10*time.Minute)) })
		}
		wg.Wait()
		won, replays := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrReplay):
				replays++
			default:
				t.Errorf("claim: %v", err)
			}
		}
		if won != 1 || replays != 7 {
			t.Errorf("%d claims won, %d refused as replays; want 1 and 7", won, replays)
		}
		if err := s.ClaimDelivery(&Delivery{Hook: "other", Digest: "d1", DeliveryID: "evt-1", SignedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Errorf("the same digest for another hook: %v", err)
		}
		if err := claim("old", now.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := claim("d2", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Deliveries("grafana"); n != 2 {
			t.Errorf("%d deliveries kept; the expired one should be gone", n)
		}
		if err := s.ReleaseDelivery("grafana", "d2"); err != nil {
			t.Fatal(err)
		}
		if err := claim("d2", now.Add(time.Minute)); err != nil {
			t.Errorf("a released delivery again: %v", err)
		}
	})
}
