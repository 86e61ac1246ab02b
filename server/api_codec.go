package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/converter"
)

// The codec server: Temporal's Web UI (or tctl, the CLI) posts the
// payloads it shows to /codec/decode and gets them decrypted, for callers
// with a token; with codec keys off the routes answer 404.

// codecHandler serves one of /codec/encode and /codec/decode with the
// API's payload codec (Temporal's remote codec protocol:
// {payloads: [...]} in, {payloads: [...]} out).
func (a *API) codecHandler(c echo.Context) error {
	if a.Codec == nil {
		return problem(http.StatusNotFound, "payload encryption is off: this server has no codec keys (RUNBOOK_CODEC_KEYS)")
	}
	req := c.Request()
	// The SDK's handler picks encode or decode by the path's last part.
	converter.NewPayloadCodecHTTPHandler(a.Codec).ServeHTTP(c.Response(), req)
	return nil
}

// codecCORS lets the configured Temporal Web UI origin call the codec
// routes from the browser, with the caller's Authorization header; a
// preflight is answered here, before authentication.
func (a *API) codecCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		origin := c.Request().Header.Get("Origin")
		if origin != "" && a.CodecOrigin != "" && origin == a.CodecOrigin {
			h := c.Response().Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Add("Vary", "Origin")
		}
		if c.Request().Method == http.MethodOptions {
			return c.NoContent(http.StatusNoContent)
		}
		return next(c)
	}
}

func isCodecRoute(path string) bool { return strings.HasPrefix(path, "/codec/") }
