// Package jiratest is a Jira Cloud REST API v3 stand-in for tests: it keeps
// one project's issues, answers JQL searches of the forms follow-ups send
// (project = KEY AND labels = "name"), creates and edits issues, and
// validates every request and answer against Atlassian's published OpenAPI
// description (testdata/specs).
package jiratest

import (
	"encoding/base64"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pmguard/pmguard/internal/apitest"
)

// The account the stand-in accepts.
const (
	Email = "sre@acme.example"
	Token = "jira-api-token-0123456789abcdef"
)

// Issue is an issue as the stand-in keeps it.
type Issue struct {
	Key      string
	Fields   map[string]any
	Resolved bool
}

// Server is the stand-in for project Project.
type Server struct {
	*apitest.Server
	Project string
	mu      sync.Mutex
	issues  []*Issue
}

// New starts a stand-in for project OPS.
func New(tb testing.TB) *Server {
	s := &Server{Project: "OPS"}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(Email+":"+Token))
	s.Server = apitest.New(tb, apitest.Options{Spec: "jira-cloud-v3.openapi.json", Prepare: mend, Authenticate: func(scheme string, r *http.Request) error {
		if scheme == "basicAuth" && r.Header.Get("Authorization") == want {
			return nil
		}
		return errors.New("not authenticated by " + scheme)
	}})
	// The spec lets every operation go anonymous ({} among its security
	// requirements), so the validation above accepts any credentials; the
	// site the stand-in plays does not.
	authed := func(h apitest.Handler) apitest.Handler {
		return func(r *apitest.Request) (int, any, http.Header) {
			if r.Header.Get("Authorization") != want {
				return http.StatusUnauthorized, map[string]any{"errorMessages": []string{"You are not authenticated. Authentication required to perform this operation."}}, nil
			}
			return h(r)
		}
	}
	s.Handle(http.MethodGet, "/rest/api/3/search/jql", authed(s.search))
	s.Handle(http.MethodPost, "/rest/api/3/issue", authed(s.create))
	s.Handle(http.MethodPut, "/rest/api/3/issue/{issueIdOrKey}", authed(s.edit))
	return s
}

// mend fixes a mistake of the published file that rejects every real
// answer: an issue edit's 204 is described with a JSON body, and Jira
// sends none (no Content-Type either).
func mend(doc *openapi3.T) {
	if item := doc.Paths.Value("/rest/api/3/issue/{issueIdOrKey}"); item != nil && item.Put != nil {
		if r := item.Put.Responses.Status(http.StatusNoContent); r != nil && r.Value != nil {
			r.Value.Content = nil
		}
	}
}

// Issues returns a copy of every issue.
func (s *Server) Issues() []Issue { return apitest.Values(&s.mu, &s.issues) }

// Resolve moves an issue to a done status.
func (s *Server) Resolve(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.issues {
		if i.Key == key {
			i.Resolved = true
		}
	}
}

var jqlRe = regexp.MustCompile(`^project = "?([A-Z][A-Z0-9]+)"? AND labels = "([^"]+)"`)

func (s *Server) json(i *Issue) map[string]any {
	f := map[string]any{}
	for k, v := range i.Fields {
		f[k] = v
	}
	cat, name := "indeterminate", "In Progress"
	if i.Resolved {
		cat, name = "done", "Done"
	}
	f["status"] = map[string]any{"name": name, "statusCategory": map[string]any{"key": cat}}
	return map[string]any{"id": i.Key[len(s.Project)+1:], "key": i.Key, "self": "https://acme.atlassian.net/rest/api/3/issue/" + i.Key, "fields": f}
}

func (s *Server) search(r *apitest.Request) (int, any, http.Header) {
	m := jqlRe.FindStringSubmatch(r.URL.Query().Get("jql"))
	if m == nil {
		return http.StatusBadRequest, map[string]any{"errorMessages": []string{"The stand-in understands project = KEY AND labels = \"name\""}}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, i := range s.issues {
		if m[1] != s.Project {
			continue
		}
		labels, _ := i.Fields["labels"].([]any)
		for _, l := range labels {
			if l == m[2] {
				out = append(out, s.json(i))
			}
		}
	}
	return http.StatusOK, map[string]any{"issues": out, "isLast": true}, nil
}

func (s *Server) create(r *apitest.Request) (int, any, http.Header) {
	var b struct {
		Fields map[string]any `json:"fields"`
	}
	if !r.JSON(nil, &b) {
		return http.StatusBadRequest, map[string]any{"errorMessages": []string{"bad JSON"}}, nil
	}
	p, _ := b.Fields["project"].(map[string]any)
	if p["key"] != s.Project {
		return http.StatusBadRequest, map[string]any{"errorMessages": []string{}, "errors": map[string]any{"project": "project is required"}}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := &Issue{Key: s.Project + "-" + strconv.Itoa(len(s.issues)+1), Fields: b.Fields}
	s.issues = append(s.issues, i)
	return http.StatusCreated, map[string]any{"id": strconv.Itoa(10000 + len(s.issues)), "key": i.Key, "self": "https://acme.atlassian.net/rest/api/3/issue/" + i.Key}, nil
}

func (s *Server) edit(r *apitest.Request) (int, any, http.Header) {
	var b struct {
		Fields map[string]any `json:"fields"`
	}
	if !r.JSON(nil, &b) {
		return http.StatusBadRequest, map[string]any{"errorMessages": []string{"bad JSON"}}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.issues {
		if i.Key == r.Params["issueIdOrKey"] {
			for k, v := range b.Fields {
				i.Fields[k] = v
			}
			return http.StatusNoContent, nil, nil
		}
	}
	return http.StatusNotFound, map[string]any{"errorMessages": []string{"Issue does not exist or you do not have permission to see it."}}, nil
}
