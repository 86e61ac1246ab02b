package examples_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// service is the small HTTP service the example runbooks act on. It reads
// the state the scripts in scripts/ write under SERVICE_STATE_DIR:
// NAME.canary holds the running canary version, NAME.restart appears when
// restart.sh ran.
type service struct {
	name, dir string
	srv       *httptest.Server
	// badVersion answers unhealthy while it is the canary.
	badVersion string
	// downUntilRestart answers unhealthy until restart.sh ran.
	downUntilRestart bool
	// broken never answers healthy.
	broken bool
}

func startService(t *testing.T, s *service) *service {
	t.Helper()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		if s.broken || s.downUntilRestart && !s.exists(".restart") {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		v := s.read(".canary")
		if v != "" && v == s.badVersion {
			http.Error(w, "crashing: "+v, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok version=%s\n", v)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *service) url() string { return s.srv.URL + "/healthz" }

func (s *service) read(suffix string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, s.name+suffix))
	return strings.TrimSpace(string(b))
}

func (s *service) exists(suffix string) bool {
	_, err := os.Stat(filepath.Join(s.dir, s.name+suffix))
	return err == nil
}

// hook records what a notification webhook receives.
type hook struct {
	mu    sync.Mutex
	texts []string
	srv   *httptest.Server
}

func startHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		h.mu.Lock()
		h.texts = append(h.texts, b.String())
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// reset forgets what was received.
func (h *hook) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.texts = nil
}

func (h *hook) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.texts...)
}
