package jira_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jira"
	"github.com/pmguard/pmguard/internal/jira/jiratest"
)

func client(t *testing.T, s *jiratest.Server, token string, maxPages int) *jira.Client {
	t.Helper()
	hc := httpx.New(httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: 2 * time.Millisecond})
	c, err := jira.New(jira.Options{BaseURL: s.URL(), Email: jiratest.Email, Token: token, HTTP: hc, MaxPages: maxPages})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const jql = `project = OPS AND labels = "pmguard-followup"`

// issuesPage is a search answer of one issue, continued by next ("" last).
func issuesPage(key, next string) string {
	tail := `,"isLast":true`
	if next != "" {
		tail = `,"nextPageToken":"` + next + `","isLast":false`
	}
	return `{"issues":[{"id":"1","key":"` + key + `","fields":{"summary":"s","labels":["pmguard-followup"]}}]` + tail + `}`
}

func TestSearchPages(t *testing.T) {
	ctx := context.Background()
	s := jiratest.New(t)
	search := "/rest/api/3/search/jql"
	s.Inject(apitest.Fault{Path: search, Status: 200, Body: issuesPage("OPS-1", "p2"), Times: 1})
	s.Inject(apitest.Fault{Path: search, Status: 200, Body: issuesPage("OPS-2", "p3"), Times: 1})
	s.Inject(apitest.Fault{Path: search, Status: 200, Body: issuesPage("OPS-3", ""), Times: 1})
	is, err := client(t, s, jiratest.Token, 10).Search(ctx, jql)
	if err != nil || len(is) != 3 || is[2].Key != "OPS-3" {
		t.Fatalf("%+v, %v", is, err)
	}
	calls := s.Calls()
	if len(calls) != 3 || !strings.Contains(calls[1], "nextPageToken=p2") || !strings.Contains(calls[2], "nextPageToken=p3") {
		t.Errorf("calls: %q", calls)
	}

	// An API that always says "more" is stopped by the page bound, one
	// that repeats its token at once.
	s.Inject(apitest.Fault{Path: search, Status: 200, Body: issuesPage("OPS-1", "p2"), Times: 1})
	s.Inject(apitest.Fault{Path: search, Status: 200, Body: issuesPage("OPS-2", "p3"), Times: 1})
	if _, err := client(t, s, jiratest.Token, 2).Search(ctx, jql); err == nil || !strings.Contains(err.Error(), "after 2 pages") {
		t.Errorf("page bound: %v", err)
	}
	s.Inject(apitest.Fault{Path: search, Status: 200, Body: issuesPage("OPS-1", "p2"), Times: 2})
	if _, err := client(t, s, jiratest.Token, 10).Search(ctx, jql); err == nil || !strings.Contains(err.Error(), "same page token twice") {
		t.Errorf("repeated token: %v", err)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	s := jiratest.New(t)
	c := client(t, s, jiratest.Token, 10)

	s.Inject(apitest.Fault{Status: 200, Body: `{"values":[]}`, Times: 1})
	if _, err := c.Search(ctx, jql); err == nil || !strings.Contains(err.Error(), "without issues") {
		t.Errorf("wrong-shaped search: %v", err)
	}
	s.Inject(apitest.Fault{Status: 201, Body: `{"id":"10001"}`, Times: 1})
	if _, err := c.Create(ctx, jira.Fields{"project": map[string]any{"key": "OPS"}, "summary": "x"}); err == nil || !strings.Contains(err.Error(), "without an issue key") {
		t.Errorf("create without a key: %v", err)
	}
	s.Inject(apitest.Fault{Status: 200, Header: http.Header{"Content-Type": {"text/html"}}, Body: `<html><body>Sign in</body></html>`, Times: 1})
	if err := c.Edit(ctx, "OPS-1", jira.Fields{"summary": "y"}); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("an HTML page for an edit: %v", err)
	}
	s.Inject(apitest.Fault{Status: http.StatusServiceUnavailable, Body: `{"errorMessages":["Jira is down for maintenance"]}`})
	err := c.Edit(ctx, "OPS-1", jira.Fields{"summary": "y"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 503: Jira is down for maintenance") {
		t.Errorf("5xx: %v", err)
	}
	if n := len(s.Calls()); n != 3+3 {
		t.Errorf("%d calls, want 3 and the 503's 3 attempts", n)
	}

	s2 := jiratest.New(t)
	_, err = client(t, s2, "wrong-token-0123456789", 10).Search(ctx, jql)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "check the email and API token") || strings.Contains(err.Error(), "wrong-token-0123456789") {
		t.Errorf("401: %v", err)
	}
}
