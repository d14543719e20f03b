package circleci_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/httpx"
)

// A final 4xx or 5xx names the request without its query values: a page
// token or a branch may be a secret, and one the run knows as a secret
// stays hidden even where show_query lets a parameter's value show.
func TestAPIErrorHidesQueryValues(t *testing.T) {
	const pageToken, branch = "pagetok-9f8e7d6c5b4a", "release-s3cr3t-branch"
	for _, status := range []int{http.StatusNotFound, http.StatusBadGateway} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("page-token") == "" {
				fmt.Fprintf(w, `{"items":[],"next_page_token":%q}`, pageToken)
				return
			}
			w.WriteHeader(status)
			fmt.Fprint(w, `{"message":"no such page"}`)
		}))
		red := httpx.NewRedactor(branch)
		red.ShowQuery("branch")
		hc := httpx.New(httpx.Options{Retries: 1, WaitMin: 1, WaitMax: 2, Redactor: red})
		c, err := circleci.New(circleci.Options{Host: srv.URL, Token: "cci-token-0123456789", HTTP: hc})
		if err != nil {
			t.Fatal(err)
		}
		_, err = circleci.Collect(c.Pipelines.All(context.Background(), "gh/acme/api", &circleci.ListPipelinesOptions{Branch: branch}, 0))
		srv.Close()
		if err == nil {
			t.Fatalf("%d: no error", status)
		}
		msg := err.Error()
		if strings.Contains(msg, pageToken) || strings.Contains(msg, branch) || !strings.Contains(msg, "/project/gh/acme/api/pipeline") {
			t.Fatalf("%d: %s", status, msg)
		}
	}
}
