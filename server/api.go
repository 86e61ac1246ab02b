package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"

	"github.com/opsrunbook/runbook/activities"
	"github.com/opsrunbook/runbook/runbooks"
	"github.com/opsrunbook/runbook/store"
)

// Limits of the API.
const (
	MaxBody        = runbooks.MaxSourceSize
	RequestTimeout = 30 * time.Second
)

// API is the engine's HTTP API under /api/v1.
type API struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Catalog   runbooks.Catalog
	Secrets   activities.SecretSource // for webhook signatures
	Scheduler *Scheduler
}

// Problem is every error answer: {error, details[]}.
type Problem struct {
	Error   string `json:"error"`
	Details []any  `json:"details"`
}

// apiError is an error with its status and details.
type apiError struct {
	status  int
	message string
	details []any
}

func (e *apiError) Error() string { return e.message }

func problem(status int, message string, details ...any) error {
	if details == nil {
		details = []any{}
	}
	return &apiError{status: status, message: message, details: details}
}

// Handler builds the Echo instance with every route.
func (a *API) Handler() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler
	e.Use(middleware.BodyLimit("1M"), middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
		Timeout: RequestTimeout,
		Skipper: func(c echo.Context) bool { return c.Request().Header.Get("Accept") == "text/event-stream" },
	}))
	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", a.ready)
	v1 := e.Group("/api/v1", a.authenticate)
	v1.POST("/runbooks", a.registerRunbook, require("author"))
	v1.GET("/runbooks", a.listRunbooks, require("viewer"))
	v1.GET("/runbooks/:name", a.getRunbook, require("viewer"))
	v1.GET("/runbooks/:name/versions", a.runbookVersions, require("viewer"))
	v1.POST("/runbooks/:name/runs", a.startRun, require("operator"))
	v1.GET("/runs", a.listRuns, require("viewer"))
	v1.GET("/runs/:id", a.getRun, require("viewer"))
	v1.GET("/runs/:id/events", a.streamEvents, require("viewer"))
	v1.POST("/runs/:id/cancel", a.cancelRun, require("operator"))
	v1.POST("/runs/:id/approvals/:step", a.vote, require("approver"))
	v1.POST("/runs/:id/events/:name", a.postEvent, require("operator"))
	v1.GET("/approvals", a.listApprovals, require("viewer"))
	v1.GET("/schedules", a.listSchedules, require("viewer"))
	v1.GET("/runbooks/:name/schedules/:schedule", a.getSchedule, require("viewer"))
	v1.POST("/runbooks/:name/schedules/:schedule/pause", a.scheduleAction("pause"), require("operator"))
	v1.POST("/runbooks/:name/schedules/:schedule/unpause", a.scheduleAction("unpause"), require("operator"))
	v1.POST("/runbooks/:name/schedules/:schedule/trigger", a.scheduleAction("trigger"), require("operator"))
	hooks := e.Group("/hooks")
	hooks.POST("/alertmanager", a.alertmanager, a.authenticate, require("operator"))
	hooks.POST("/webhook/:name", a.webhook)
	return e
}

// errorHandler answers every error as JSON {error, details[]}.
func errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, p := http.StatusInternalServerError, Problem{Error: "internal error", Details: []any{}}
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, p = ae.status, Problem{Error: ae.message, Details: ae.details}
	case errors.As(err, &he):
		status = he.Code
		p.Error = strings.ToLower(http.StatusText(he.Code))
		if m, ok := he.Message.(string); ok && m != "" {
			p.Error = m
		}
	default:
		c.Logger().Error(err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, p)
}

const identityKey = "identity"

// authenticate resolves the bearer token to an identity: 401 without a
// valid one.
func (a *API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(secret) == "" {
			return problem(http.StatusUnauthorized, "missing bearer token", "send Authorization: Bearer <token>")
		}
		id, err := a.Store.Authenticate(strings.TrimSpace(secret))
		if errors.Is(err, store.ErrBadToken) {
			return problem(http.StatusUnauthorized, "invalid or revoked token")
		}
		if err != nil {
			return err
		}
		c.Set(identityKey, id)
		return next(c)
	}
}

// require refuses callers without role: 403.
func require(role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !identity(c).Has(role) {
				return problem(http.StatusForbidden, "this needs the "+role+" role")
			}
			return next(c)
		}
	}
}

func identity(c echo.Context) *store.Identity {
	id, _ := c.Get(identityKey).(*store.Identity)
	if id == nil {
		return &store.Identity{}
	}
	return id
}

func (a *API) ready(c echo.Context) error {
	var failed []any
	if err := a.Store.Ping(); err != nil {
		failed = append(failed, "database: "+err.Error())
	}
	if _, err := a.Temporal.CheckHealth(c.Request().Context(), &client.CheckHealthRequest{}); err != nil {
		failed = append(failed, "temporal: "+err.Error())
	}
	if len(failed) > 0 {
		return problem(http.StatusServiceUnavailable, "not ready", failed...)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func timeNow() time.Time { return time.Now().UTC() }
