package github_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/github"
	"github.com/pmguard/pmguard/internal/github/githubtest"
	"github.com/pmguard/pmguard/internal/httpx"
)

func client(t *testing.T, s *githubtest.Server, maxPages int) *github.Client {
	hc := httpx.New(httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: 2 * time.Millisecond})
	c, err := github.New(github.Options{BaseURL: s.URL(), Token: githubtest.Token, Repo: "acme/shop", HTTP: hc, MaxPages: maxPages})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssuesPagesAndFaults(t *testing.T) {
	ctx := context.Background()
	s := githubtest.New(t)
	s.PageSize = 2
	c := client(t, s, 10)
	for _, title := range []string{"a", "b", "c", "d", "e"} {
		if _, err := c.Create(ctx, github.IssueRequest{Title: title, Labels: []string{"follow-up"}, Assignees: []string{}}); err != nil {
			t.Fatal(err)
		}
	}
	is, err := c.Issues(ctx, "follow-up")
	if err != nil || len(is) != 5 {
		t.Fatalf("%d issues, %v", len(is), err)
	}
	if _, err := client(t, s, 2).Issues(ctx, "follow-up"); err == nil || !strings.Contains(err.Error(), "after 2 pages") {
		t.Errorf("page bound: %v", err)
	}
	s.Inject(apitest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Body: `{"message":"API rate limit exceeded"}`, Times: 1})
	if _, err := c.Issues(ctx, "follow-up"); err != nil {
		t.Errorf("after a 429: %v", err)
	}
	s.Inject(apitest.Fault{Status: http.StatusBadGateway, Body: `{"message":"Server Error"}`})
	_, err = c.Create(ctx, github.IssueRequest{Title: "x"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 502: Server Error") || strings.Contains(err.Error(), githubtest.Token) {
		t.Errorf("5xx: %v", err)
	}
	s2 := githubtest.New(t)
	s2.Inject(apitest.Fault{Status: 200, Body: `{"items":[]}`, Times: 1})
	if _, err := client(t, s2, 10).Issues(ctx, "follow-up"); err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
		t.Errorf("wrong shape: %v", err)
	}
	s2.Inject(apitest.Fault{Status: 200, Body: `[]`, Header: http.Header{"Link": {`<https://elsewhere.example/repos/acme/shop/issues?page=2>; rel="next"`}}, Times: 1})
	if _, err := client(t, s2, 10).Issues(ctx, "follow-up"); err == nil || !strings.Contains(err.Error(), "another host") {
		t.Errorf("off-host next page: %v", err)
	}
}
