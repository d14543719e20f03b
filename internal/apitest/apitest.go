// Package apitest is the common part of pmguard's stand-ins for vendor REST
// APIs (Datadog, PagerDuty, GitHub, Jira): a loopback server whose routes
// are operations of the vendor's published OpenAPI file (vendored in
// testdata/specs), each request and each answer validated against it with
// kin-openapi, plus faults a test can inject (429 with Retry-After, 5xx,
// a 200 of the wrong shape). A vendor stand-in keeps its own state and
// registers handlers; a validation failure fails the test.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/pmguard/pmguard/internal/testspecs"
)

// Request is what a handler gets: the request, its path parameters (by the
// names the spec's template uses) and its body.
type Request struct {
	*http.Request
	Params map[string]string
	Body   []byte
}

// Handler answers a validated request with a status and a value encoded as
// JSON (nil: no body). Header may be set through the returned header map.
type Handler func(r *Request) (status int, body any, header http.Header)

// Fault is an answer given instead of the handler's, Times times, to
// requests whose path starts with Path ("" any). Injected answers are not
// validated: they are what a misbehaving service sends.
type Fault struct {
	Path       string
	Method     string // "" any
	Status     int
	RetryAfter string // Retry-After header, with 429 or 503
	Header     http.Header
	Body       string // raw body (a wrong-shaped 200, an HTML error page)
	Times      int    // 0 or less: forever
	// AfterWork runs the handler first, its effects kept, and answers
	// with the fault instead of its response: a gateway that timed out
	// after the service did the work.
	AfterWork bool
}

// Options configure a Server.
type Options struct {
	// Spec is the vendored spec's file name in testdata/specs; More are
	// further specs of the same API (Datadog's v1 and v2 files).
	Spec string
	More []string
	// Embedded holds specs by name that the stand-in carries itself (a
	// Subset of a vendored file), read instead of testdata/specs.
	Embedded map[string][]byte
	// Prepare mends the parsed spec once (known upstream mistakes), before
	// any validation; each mend is documented where it is made.
	Prepare func(*openapi3.T)
	// Authenticate checks a request's credentials against the security
	// scheme the operation names; nil accepts any.
	Authenticate func(scheme string, r *http.Request) error
}

// Server is a validating stand-in on loopback.
type Server struct {
	tb   testing.TB
	docs []*openapi3.T
	o    Options
	srv  *httptest.Server

	mu     sync.Mutex
	routes []route
	faults []*Fault
	calls  []string
}

type route struct {
	method, template string
	segs             []string
	h                Handler
	doc              *openapi3.T
}

// New starts a stand-in and stops it when the test ends.
func New(tb testing.TB, o Options) *Server {
	tb.Helper()
	s := &Server{tb: tb, o: o}
	for _, name := range append([]string{o.Spec}, o.More...) {
		doc, err := load(name, o.Embedded[name], o.Prepare)
		if err != nil {
			tb.Fatalf("apitest: %v", err)
		}
		s.docs = append(s.docs, doc)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL is the server's base URL (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// Handle registers h for an operation of the spec; an operation the spec
// does not have is a test failure at once.
func (s *Server) Handle(method, template string, h Handler) {
	s.tb.Helper()
	var doc *openapi3.T
	for _, d := range s.docs {
		if item := d.Paths.Value(template); item != nil && item.GetOperation(method) != nil {
			doc = d
			break
		}
	}
	if doc == nil {
		s.tb.Fatalf("apitest: %s %s is not in %s", method, template, strings.Join(append([]string{s.o.Spec}, s.o.More...), ", "))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = append(s.routes, route{method: method, template: template, segs: strings.Split(strings.Trim(template, "/"), "/"), h: h, doc: doc})
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Calls lists the requests served, as "METHOD /path?query".
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *Server) fail(format string, a ...any) {
	s.tb.Errorf("%s stand-in: %s", s.o.Spec, fmt.Sprintf(format, a...))
}

func (s *Server) match(method, path string) (*route, map[string]string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	// Literal segments win over parameters (/search/issues before /{x}/{y}).
	var best *route
	var bestParams map[string]string
	bestLit := -1
	for i := range s.routes {
		r := &s.routes[i]
		if r.method != method || len(r.segs) != len(segs) {
			continue
		}
		params, lit, ok := map[string]string{}, 0, true
		for j, seg := range r.segs {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				params[seg[1:len(seg)-1]] = segs[j]
				continue
			}
			if seg != segs[j] {
				ok = false
				break
			}
			lit++
		}
		if ok && lit > bestLit {
			best, bestParams, bestLit = r, params, lit
		}
	}
	return best, bestParams
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Path == "" || strings.HasPrefix(path, f.Path)) && (f.Method == "" || f.Method == method) {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					s.faults = append(s.faults[:i], s.faults[i+1:]...)
				}
			}
			return f
		}
	}
	return nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.RequestURI())
	s.mu.Unlock()
	rt, params := s.match(r.Method, r.URL.Path)
	if rt == nil {
		s.fail("%s %s: no such operation served", r.Method, r.URL.RequestURI())
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		return
	}
	in := s.input(r, rt, params, body)
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		s.fail("request %s %s does not match the spec (%s): %v", r.Method, r.URL.RequestURI(), rt.template, err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"message":"request does not match the spec"}`)
		return
	}
	if f := s.takeFault(r.Method, r.URL.Path); f != nil {
		if f.AfterWork {
			rt.h(&Request{Request: r, Params: params, Body: body})
		}
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(f.Status)
		io.WriteString(w, f.Body)
		return
	}
	status, v, hdr := rt.h(&Request{Request: r, Params: params, Body: body})
	var out []byte
	if v != nil {
		var err error
		if out, err = json.Marshal(v); err != nil {
			s.fail("encoding the answer to %s %s: %v", r.Method, r.URL.Path, err)
		}
	}
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	if out != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	resp := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: w.Header(),
		Body: io.NopCloser(bytes.NewReader(out)), Options: in.Options}
	if in.Route.Operation.Responses.Status(status) != nil || in.Route.Operation.Responses.Default() != nil {
		if err := openapi3filter.ValidateResponse(r.Context(), resp); err != nil {
			s.fail("answer %d to %s %s does not match the spec (%s): %v\nbody: %.600s", status, r.Method, r.URL.RequestURI(), rt.template, err, out)
		}
	} else {
		s.fail("answer %d to %s %s is not documented for %s", status, r.Method, r.URL.RequestURI(), rt.template)
	}
	w.WriteHeader(status)
	w.Write(out)
}

func (s *Server) input(r *http.Request, rt *route, params map[string]string, body []byte) *openapi3filter.RequestValidationInput {
	item := rt.doc.Paths.Value(rt.template)
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params,
		Route: &routers.Route{Spec: rt.doc, Path: rt.template, PathItem: item, Method: rt.method, Operation: item.GetOperation(rt.method)},
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, MultiError: true,
			AuthenticationFunc: func(_ context.Context, a *openapi3filter.AuthenticationInput) error {
				if s.o.Authenticate == nil {
					return nil
				}
				return s.o.Authenticate(a.SecuritySchemeName, a.RequestValidationInput.Request)
			},
		},
	}
}

var (
	docsMu sync.Mutex
	docs   = map[string]func() (*openapi3.T, error){}
)

// load parses a spec once per test binary (the Datadog v1 file is 2 MB) and
// mends it once; afterwards the document is only read.
func load(name string, embedded []byte, prepare func(*openapi3.T)) (*openapi3.T, error) {
	docsMu.Lock()
	f, ok := docs[name]
	if !ok {
		f = sync.OnceValues(func() (*openapi3.T, error) {
			data := embedded
			if data == nil {
				var err error
				if data, err = testspecs.Read(name); err != nil {
					return nil, err
				}
			}
			l := openapi3.NewLoader()
			doc, err := l.LoadFromData(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if prepare != nil {
				prepare(doc)
			}
			return doc, nil
		})
		docs[name] = f
	}
	docsMu.Unlock()
	return f()
}

// JSON decodes a request body into v (the spec validated it already).
func (r *Request) JSON(_ testing.TB, v any) bool { return json.Unmarshal(r.Body, v) == nil }

// Values copies the records *ps holds, holding mu (which guards the slice
// too): a test's view of a stand-in's state that its handlers cannot
// change under it.
func Values[T any](mu sync.Locker, ps *[]*T) []T {
	mu.Lock()
	defer mu.Unlock()
	out := make([]T, 0, len(*ps))
	for _, p := range *ps {
		out = append(out, *p)
	}
	return out
}
