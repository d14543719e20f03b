package github_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/github"
	"github.com/pmguard/pmguard/internal/httpx"
)

// TestRateLimitSaysSo: a GitHub that answers 429 after pmguard's retries
// is reported as rate limited, with the wait it asks for.
func TestRateLimitSaysSo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "45")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := github.New(github.Options{BaseURL: srv.URL, Token: "tok-gh-1234", Repo: "acme/api", HTTP: httpx.New(httpx.Options{Retries: -1})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Issues(context.Background(), "postmortem-follow-up")
	want := "GitHub GET /repos/acme/api/issues: HTTP 429 (rate limited; the server asks to wait 45s)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
}
