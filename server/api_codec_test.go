package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The codec routes answer a browser preflight from the configured Temporal
// Web UI origin without a token, and no other origin; with codec keys off
// they are 404.
func TestCodecRoutes(t *testing.T) {
	api := &API{CodecOrigin: "https://temporal-ui.example.com"}
	h := api.Handler()
	for _, tt := range []struct {
		origin    string
		wantAllow string
	}{
		{"https://temporal-ui.example.com", "https://temporal-ui.example.com"},
		{"https://evil.example.com", ""},
	} {
		req := httptest.NewRequest(http.MethodOptions, "/codec/decode", nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != tt.wantAllow {
			t.Errorf("preflight from %s: %d, allow %q", tt.origin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
		if tt.wantAllow != "" && rec.Header().Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, X-Namespace" {
			t.Errorf("allowed headers: %q", rec.Header().Get("Access-Control-Allow-Headers"))
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/codec/decode", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("decode without a token: %d", rec.Code)
	}
}
