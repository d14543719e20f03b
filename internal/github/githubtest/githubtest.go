// Package githubtest is a GitHub REST API stand-in for tests: it keeps one
// repository's issues, lists them by label with Link-header pages as
// GitHub does, creates and updates them, and validates every request and
// answer against GitHub's published OpenAPI description (testdata/specs).
package githubtest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
)

// Token is the token the stand-in accepts.
const Token = "ghp_testtoken0123456789abcdefABCDEF"

// Issue is an issue as the stand-in keeps it.
type Issue struct {
	Number    int
	Title     string
	Body      string
	State     string
	Labels    []string
	Assignees []string
	Created   time.Time
	Updated   time.Time
}

// Server is the stand-in for repository Owner/Repo.
type Server struct {
	*apitest.Server
	Owner, Repo string
	// PageSize is how many issues a page holds (GitHub: per_page, max 100).
	PageSize int
	Now      func() time.Time

	mu     sync.Mutex
	issues []*Issue
}

// New starts a stand-in for acme/shop.
func New(tb testing.TB) *Server {
	s := &Server{Owner: "acme", Repo: "shop", Now: func() time.Time { return time.Date(2026, 11, 20, 16, 0, 0, 0, time.UTC) }}
	s.Server = apitest.New(tb, apitest.Options{Spec: "github-rest-api.openapi.json", Authenticate: func(string, *http.Request) error { return nil }})
	s.Handle(http.MethodGet, "/repos/{owner}/{repo}/issues", s.guard(s.list))
	s.Handle(http.MethodPost, "/repos/{owner}/{repo}/issues", s.guard(s.create))
	s.Handle(http.MethodPatch, "/repos/{owner}/{repo}/issues/{issue_number}", s.guard(s.update))
	return s
}

func (s *Server) guard(h apitest.Handler) apitest.Handler {
	return func(r *apitest.Request) (int, any, http.Header) {
		if r.Header.Get("Authorization") != "Bearer "+Token {
			return http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, nil
		}
		if r.Params["owner"] != s.Owner || r.Params["repo"] != s.Repo {
			return http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, nil
		}
		return h(r)
	}
}

// Issues returns a copy of every issue.
func (s *Server) Issues() []Issue { return apitest.Values(&s.mu, &s.issues) }

// Close marks an issue closed, as someone finishing the work would.
func (s *Server) Close(number int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.issues {
		if i.Number == number {
			i.State = "closed"
		}
	}
}

func (s *Server) user(login string) map[string]any {
	u := "https://api.github.com/users/" + login
	return map[string]any{"login": login, "id": 1000 + len(login), "node_id": "MDQ6VXNlcjE=", "avatar_url": "https://avatars.githubusercontent.com/u/1", "gravatar_id": "",
		"url": u, "html_url": "https://github.com/" + login, "followers_url": u + "/followers", "following_url": u + "/following{/other_user}",
		"gists_url": u + "/gists{/gist_id}", "starred_url": u + "/starred{/owner}{/repo}", "subscriptions_url": u + "/subscriptions",
		"organizations_url": u + "/orgs", "repos_url": u + "/repos", "events_url": u + "/events{/privacy}", "received_events_url": u + "/received_events",
		"type": "User", "site_admin": false}
}

func (s *Server) json(i *Issue) map[string]any {
	api := "https://api.github.com/repos/" + s.Owner + "/" + s.Repo
	u := api + "/issues/" + strconv.Itoa(i.Number)
	labels := []any{}
	for n, l := range i.Labels {
		labels = append(labels, map[string]any{"id": 100 + n, "node_id": "LA_1", "url": api + "/labels/" + l, "name": l, "description": nil, "color": "ededed", "default": false})
	}
	assignees := []any{}
	var assignee any
	for _, a := range i.Assignees {
		assignees = append(assignees, s.user(a))
	}
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var closed any
	if i.State == "closed" {
		closed = i.Updated.Format(time.RFC3339)
	}
	return map[string]any{"id": 5000 + i.Number, "node_id": "I_kwDO" + strconv.Itoa(i.Number), "url": u, "repository_url": api,
		"labels_url": u + "/labels{/name}", "comments_url": u + "/comments", "events_url": u + "/events",
		"html_url": "https://github.com/" + s.Owner + "/" + s.Repo + "/issues/" + strconv.Itoa(i.Number),
		"number":   i.Number, "state": i.State, "title": i.Title, "body": i.Body, "user": s.user("pmguard-bot"), "labels": labels,
		"assignee": assignee, "assignees": assignees, "milestone": nil, "locked": false, "comments": 0, "closed_at": closed,
		"created_at": i.Created.Format(time.RFC3339), "updated_at": i.Updated.Format(time.RFC3339), "author_association": "MEMBER"}
}

func (s *Server) list(r *apitest.Request) (int, any, http.Header) {
	q := r.URL.Query()
	want := strings.Split(q.Get("labels"), ",")
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	size := s.PageSize
	if size <= 0 {
		size, _ = strconv.Atoi(q.Get("per_page"))
	}
	if size <= 0 {
		size = 30
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []*Issue
	for _, i := range s.issues {
		ok := q.Get("state") == "all" || i.State == firstNonEmpty(q.Get("state"), "open")
		for _, l := range want {
			ok = ok && (l == "" || contains(i.Labels, l))
		}
		if ok {
			hits = append(hits, i)
		}
	}
	sort.SliceStable(hits, func(a, b int) bool { return hits[a].Number > hits[b].Number })
	out := []any{}
	for n := (page - 1) * size; n < len(hits) && n < page*size; n++ {
		out = append(out, s.json(hits[n]))
	}
	h := http.Header{}
	if page*size < len(hits) {
		q.Set("page", strconv.Itoa(page+1))
		h.Set("Link", `<`+s.URL()+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	return http.StatusOK, out, h
}

type issueBody struct {
	Title     *string  `json:"title"`
	Body      *string  `json:"body"`
	Labels    []string `json:"labels"`
	Assignees []string `json:"assignees"`
	State     string   `json:"state"`
}

func (s *Server) create(r *apitest.Request) (int, any, http.Header) {
	var b issueBody
	if !r.JSON(nil, &b) {
		return http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Now()
	i := &Issue{Number: len(s.issues) + 1, State: "open", Labels: b.Labels, Assignees: b.Assignees, Created: now, Updated: now}
	if b.Title != nil {
		i.Title = *b.Title
	}
	if b.Body != nil {
		i.Body = *b.Body
	}
	s.issues = append(s.issues, i)
	return http.StatusCreated, s.json(i), nil
}

func (s *Server) update(r *apitest.Request) (int, any, http.Header) {
	n, _ := strconv.Atoi(r.Params["issue_number"])
	var b issueBody
	if !r.JSON(nil, &b) {
		return http.StatusBadRequest, map[string]any{"message": "Problems parsing JSON"}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.issues {
		if i.Number != n {
			continue
		}
		if b.Title != nil {
			i.Title = *b.Title
		}
		if b.Body != nil {
			i.Body = *b.Body
		}
		if b.Labels != nil {
			i.Labels = b.Labels
		}
		if b.Assignees != nil {
			i.Assignees = b.Assignees
		}
		if b.State != "" {
			i.State = b.State
		}
		i.Updated = s.Now()
		return http.StatusOK, s.json(i), nil
	}
	return http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
