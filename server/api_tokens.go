package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/plan"
	"github.com/opsrunbook/runbook/store"
)

// createdToken is a new token with its secret: the only answer that
// carries one.
type createdToken struct {
	store.TokenInfo
	Secret string `json:"secret"`
}

var tokenFields = []string{"user", "roles", "groups", "ttl"}

// createToken makes a token ({user, roles, groups, ttl}) as the caller:
// 201 with the secret, once; 422 listing every problem, creating nothing.
func (a *API) createToken(c echo.Context) error {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil || body == nil {
		return problem(http.StatusBadRequest, "the body is not a JSON object", `send {"user": "ann", "roles": ["operator"], "groups": [], "ttl": "720h"}`)
	}
	var spec store.TokenSpec
	var problems []any
	bad := map[string]bool{}
	decode := func(field string, into any, want string) {
		if raw, ok := body[field]; ok && json.Unmarshal(raw, into) != nil {
			problems, bad[field] = append(problems, field+": want "+want), true
		}
	}
	decode("user", &spec.User, "a string")
	decode("roles", &spec.Roles, "a list of strings")
	decode("groups", &spec.Groups, "a list of strings")
	decode("ttl", &spec.TTL, `a duration string such as "720h" or "30d"`)
	for _, k := range plan.SortedKeys(body) {
		if !slices.Contains(tokenFields, k) {
			problems = append(problems, fmt.Sprintf("%s: unknown field (fields: %s)", k, strings.Join(tokenFields, ", ")))
		}
	}
	for _, p := range spec.Problems() {
		if field, _, _ := strings.Cut(p, ":"); !bad[strings.Split(field, "[")[0]] { // a field of the wrong type was read as empty
			problems = append(problems, p)
		}
	}
	if problems != nil {
		return problem(http.StatusUnprocessableEntity, "invalid token request", problems...)
	}
	secret, t, err := a.Store.IssueToken(identity(c).User, spec)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, createdToken{TokenInfo: t.Info(timeNow()), Secret: secret})
}

// listTokens lists the tokens (?user= only that user's), never a secret.
func (a *API) listTokens(c echo.Context) error {
	ts, err := a.Store.Tokens(c.QueryParam("user"))
	if err != nil {
		return err
	}
	now := timeNow()
	out := make([]store.TokenInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Info(now))
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": out})
}

// revokeToken revokes a token named by id or prefix, as the caller: it
// stops authenticating at once. 404 unknown, 409 already revoked.
func (a *API) revokeToken(c echo.Context) error {
	ref := c.Param("id")
	t, err := a.Store.FindToken(ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return problem(http.StatusNotFound, "no token "+ref, "name a token by the id or the prefix GET /api/v1/tokens shows")
	case errors.Is(err, store.ErrAmbiguousPrefix):
		return problem(http.StatusConflict, err.Error())
	case err != nil:
		return err
	}
	t, err = a.Store.RevokeToken(identity(c).User, t.ID)
	switch {
	case errors.Is(err, store.ErrAlreadyRevoked):
		return problem(http.StatusConflict, fmt.Sprintf("token %d already revoked", t.ID), "revoked at "+t.RevokedAt.Format(time.RFC3339))
	case errors.Is(err, store.ErrNotFound):
		return problem(http.StatusNotFound, "no token "+ref)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusOK, t.Info(timeNow()))
}
