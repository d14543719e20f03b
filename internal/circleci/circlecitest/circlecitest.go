// Package circlecitest runs a CircleCI API v2 stand-in for tests: the
// stateful server of package inmemory, with every request it receives and every
// answer it gives validated against CircleCI's published OpenAPI file
// (testdata/specs/circleci-api-v2.openapi.json at the module root, vendored
// with its provenance in testdata/specs/SOURCES.md) with kin-openapi. A validation failure fails the test, so the client
// cannot drift from the real API.
//
// The deploy and rollback routes are newer than the published file; they are
// validated against newer_routes.openapi.json, a small schema written by hand
// from CircleCI's documentation (its info block says so).
package circlecitest

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/testspecs"
)

//go:embed newer_routes.openapi.json
var newerRoutesJSON []byte

// SpecFile is the published spec's path relative to the module root.
const SpecFile = testspecs.Dir + "/" + specName

const specName = "circleci-api-v2.openapi.json"

// Server is the validating stand-in. Seed it and inspect it through the
// embedded *inmemory.Server.
type Server struct {
	*inmemory.Server
	tb    testing.TB
	specs *specs

	mu       sync.Mutex
	failures []string
}

// New starts a validating stand-in on loopback and stops it when the test
// ends. tb may be nil (benchmarks): failures are then only collected, see
// Failures.
func New(tb testing.TB, o inmemory.Options) *Server {
	if tb != nil {
		tb.Helper()
	}
	sp, err := loadSpecs()
	if err != nil {
		if tb != nil {
			tb.Fatalf("circlecitest: %v", err)
		}
		panic(err)
	}
	s := &Server{Server: inmemory.New(o), tb: tb, specs: sp}
	s.SetHooks(s.checkRequest, s.checkResponse)
	s.Start()
	if tb != nil {
		tb.Cleanup(s.Close)
	}
	return s
}

// Failures lists every validation failure so far.
func (s *Server) Failures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failures...)
}

func (s *Server) fail(format string, a ...any) {
	m := fmt.Sprintf(format, a...)
	s.mu.Lock()
	s.failures = append(s.failures, m)
	s.mu.Unlock()
	if s.tb != nil {
		s.tb.Errorf("CircleCI stand-in: %s", m)
	}
}

// Client returns a client for the stand-in: the accepted token, and retries
// with millisecond waits so fault tests stay fast.
func (s *Server) Client(tb testing.TB) *circleci.Client {
	c, err := circleci.New(circleci.Options{Host: s.URL(), Token: s.Token(), HTTP: FastHTTP()})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// FastHTTP is an httpx client with 3 retries and waits of a few
// milliseconds (a server's Retry-After is capped at 5 ms too).
func FastHTTP() *httpx.Client {
	return httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond, Timeout: 5 * time.Second})
}

type specs struct {
	published *openapi3.T
	newer     *openapi3.T
}

// loadSpecs parses both documents once per test binary: the published file
// is 685 kB and parsing it for every server would dominate test time. The
// parsed documents are only read afterwards.
var loadSpecs = sync.OnceValues(func() (*specs, error) {
	path, err := SpecPath()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	newer, err := parse(newerRoutesJSON)
	if err != nil {
		return nil, fmt.Errorf("newer_routes.openapi.json: %w", err)
	}
	return &specs{published: pub, newer: newer}, nil
})

// Published is the vendored CircleCI API v2 spec as the stand-in validates
// with (x-nullable read as nullable), parsed once per test binary: for
// tests that serve CircleCI's answers themselves.
func Published() (*openapi3.T, error) {
	sp, err := loadSpecs()
	if err != nil {
		return nil, err
	}
	return sp.published, nil
}

func parse(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, err
	}
	markNullable(doc)
	typeSchemalessParams(doc)
	return doc, nil
}

// SpecPath finds the published spec vendored at SpecFile under the module
// root (the directory holding go.mod, found by walking up from the working
// directory).
func SpecPath() (string, error) {
	return testspecs.Path(specName)
}

// markNullable turns the spec's x-nullable (a Swagger 2 extension CircleCI
// kept when converting) into OpenAPI 3's nullable: the real API sends null
// for exactly those fields (stopped_at of a running workflow,
// next_page_token on the last page).
func markNullable(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(r *openapi3.SchemaRef)
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		if v, ok := s.Extensions["x-nullable"].(bool); ok && v {
			s.Nullable = true
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.Not)
		if s.AdditionalProperties.Schema != nil {
			walk(s.AdditionalProperties.Schema)
		}
		for _, l := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range l {
				walk(x)
			}
		}
	}
	if doc.Components != nil {
		for _, r := range doc.Components.Schemas {
			walk(r)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil {
					walk(p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, resp := range op.Responses.Map() {
				if resp.Value != nil {
					for _, mt := range resp.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
	}
}

// typeSchemalessParams gives the spec's schemaless path parameters
// (job-number, pipeline-number: "schema": {}) the type string: kin-openapi
// cannot decode a path parameter without a type, and any value is valid
// against an empty schema anyway.
func typeSchemalessParams(doc *openapi3.T) {
	fix := func(ps openapi3.Parameters) {
		for _, p := range ps {
			if p.Value == nil || p.Value.In != openapi3.ParameterInPath {
				continue
			}
			if p.Value.Schema == nil || p.Value.Schema.Value == nil || p.Value.Schema.Value.Type == nil {
				p.Value.Schema = openapi3.NewStringSchema().NewRef()
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		fix(item.Parameters)
		for _, op := range item.Operations() {
			fix(op.Parameters)
		}
	}
}

func (s *Server) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus:             true,
		RejectWhenRequestBodyNotSpecified: true,
		MultiError:                        true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if in.SecuritySchemeName != "api_key_header" {
				return errors.New("pmguard authenticates with the Circle-Token header only")
			}
			if in.RequestValidationInput.Request.Header.Get("Circle-Token") == "" {
				return errors.New("no Circle-Token header")
			}
			return nil
		},
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC4122)),
		},
	}
}

func (s *Server) routeFor(route inmemory.Route) (*routers.Route, error) {
	doc := s.specs.published
	if route.Newer {
		doc = s.specs.newer
	}
	item := doc.Paths.Value(route.Template)
	if item == nil {
		return nil, fmt.Errorf("path %s is not in the spec", route.Template)
	}
	op := item.GetOperation(route.Method)
	if op == nil {
		return nil, fmt.Errorf("%s %s is not in the spec", route.Method, route.Template)
	}
	return &routers.Route{Spec: doc, Path: route.Template, PathItem: item, Method: route.Method, Operation: op}, nil
}

func (s *Server) input(r *http.Request, route inmemory.Route, body []byte) (*openapi3filter.RequestValidationInput, error) {
	rr, err := s.routeFor(route)
	if err != nil {
		return nil, err
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return &openapi3filter.RequestValidationInput{Request: req, PathParams: route.Params, Route: rr, Options: s.options()}, nil
}

// checkRequest validates a request before it is served; an invalid one is
// a test failure and gets a 400.
func (s *Server) checkRequest(w http.ResponseWriter, r *http.Request, route inmemory.Route, body []byte) bool {
	if route.Template == "" {
		s.fail("%s %s: no such operation in the CircleCI API", r.Method, r.URL.RequestURI())
		http.Error(w, `{"message":"Not found."}`, http.StatusNotFound)
		return false
	}
	in, err := s.input(r, route, body)
	if err == nil {
		err = openapi3filter.ValidateRequest(r.Context(), in)
	}
	if err != nil {
		s.fail("request %s %s does not match the spec (%s): %v", r.Method, r.URL.RequestURI(), route.Template, err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message":"request does not match the CircleCI API spec"}`))
		return false
	}
	return true
}

// genericError is the shape of error answers the spec does not list for an
// operation (429 and 5xx from CircleCI's edge, 401 on some operations).
var genericError = &openapi3.Schema{
	Type:       &openapi3.Types{openapi3.TypeObject},
	Properties: openapi3.Schemas{"message": openapi3.NewStringSchema().NewRef()},
	Required:   []string{"message"},
}

// checkResponse validates an answer before it is written.
func (s *Server) checkResponse(r *http.Request, route inmemory.Route, body []byte, status int, header http.Header, resp []byte) {
	in, err := s.input(r, route, body)
	if err != nil {
		s.fail("answer to %s %s: %v", r.Method, r.URL.RequestURI(), err)
		return
	}
	documented := in.Route.Operation.Responses.Status(status) != nil || in.Route.Operation.Responses.Default() != nil
	if !documented && (route.Injected || status == http.StatusUnauthorized || status >= 500 || status == http.StatusTooManyRequests) {
		var v any
		if err := jsonUnmarshal(resp, &v); err != nil {
			s.fail("answer %d to %s %s is not JSON: %v", status, r.Method, r.URL.RequestURI(), err)
			return
		}
		if err := genericError.VisitJSON(v); err != nil {
			s.fail("answer %d to %s %s: %v", status, r.Method, r.URL.RequestURI(), err)
		}
		return
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(resp)),
		Options:                in.Options,
	}
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		s.fail("answer %d to %s %s does not match the spec (%s): %v\nbody: %s", status, r.Method, r.URL.RequestURI(), route.Template, err, truncate(resp))
	}
}

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return strings.TrimSpace(s)
}
