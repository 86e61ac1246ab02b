package server

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/opsrunbook/runbook/runbooks"
)

var pathParam = regexp.MustCompile(`:([a-z]+)`)

// OpenAPI builds the OpenAPI 3 document from the routing table.
func OpenAPI() map[string]any {
	paths := map[string]any{}
	limits := routeLimits()
	for _, r := range routeTable() {
		p := pathParam.ReplaceAllString(r.path, "{$1}")
		op := map[string]any{
			"summary": r.summary,
			"responses": map[string]any{
				"200":     map[string]any{"description": "OK", "content": map[string]any{"application/json": map[string]any{}}},
				"default": map[string]any{"description": "An error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}},
			},
		}
		if l, ok := limits[r.method+" "+r.path]; ok {
			op["x-limits"] = l
			if past := pastLimits(l, http.StatusRequestEntityTooLarge); past != "" {
				op["responses"].(map[string]any)["413"] = describe("Past a limit (x-limits): " + past)
			}
		}
		for code, resp := range limitResponses(r) {
			op["responses"].(map[string]any)[code] = resp
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		q, _ := routeQuery(r.method, r.path)
		params = append(params, q...)
		if params != nil {
			op["parameters"] = params
		}
		if r.role != "" {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
			op["description"] = "Needs the " + r.role + " role."
		}
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p].(map[string]any)[strings.ToLower(r.method)] = op
		if isCodecRoute(r.path) {
			paths[p].(map[string]any)["options"] = map[string]any{
				"summary":   "CORS preflight: answers the Temporal Web UI origin (RUNBOOK_CODEC_CORS_ORIGIN) with Access-Control-Allow-Origin, -Credentials, -Headers (Authorization, Content-Type, X-Namespace) and -Methods; no token needed",
				"responses": map[string]any{"204": map[string]any{"description": "No content"}},
			}
		}
	}
	return map[string]any{
		"openapi":  "3.0.3",
		"info":     map[string]any{"title": "Runbook Engine API", "version": "1"},
		"paths":    paths,
		"x-limits": limitsDoc(),
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{
				"Problem": map[string]any{
					"type": "object", "required": []string{"error", "details"},
					"properties": map[string]any{"error": map[string]any{"type": "string"}, "details": map[string]any{
						"type": "array", "items": map[string]any{}, "description": "For an invalid runbook, Diagnostic objects.",
					}},
				},
				"Diagnostic": diagnosticSchema(),
				"Limit":      limitSchema(),
			},
		},
	}
}

// diagnosticSchema describes runbooks.Diagnostic, with its closed set of codes.
func diagnosticSchema() map[string]any {
	str := map[string]any{"type": "string"}
	codes := make([]string, len(runbooks.Codes))
	for i, c := range runbooks.Codes {
		codes[i] = string(c)
	}
	return map[string]any{
		"type": "object", "required": []string{"file", "pos", "message", "severity", "code"},
		"properties": map[string]any{
			"file": str,
			"pos": map[string]any{"type": "object", "properties": map[string]any{
				"line": map[string]any{"type": "integer"}, "col": map[string]any{"type": "integer"},
			}},
			"path":     map[string]any{"type": "string", "description": "The field path, e.g. spec.steps[2].with.url."},
			"message":  str,
			"hint":     str,
			"severity": map[string]any{"type": "string", "enum": []string{"error", "warning"}},
			"code":     map[string]any{"type": "string", "enum": codes, "description": "The class of problem; docs/diagnostics.md lists them."},
		},
	}
}

func openAPIHandler(c echo.Context) error { return c.JSON(http.StatusOK, OpenAPI()) }
