package circleci_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
)

// misbehaving is a server that answers every request with answer(n), n
// counting requests from 1: what a broken proxy or a changed API might send.
func misbehaving(t *testing.T, answer func(n int64, r *http.Request) string) (*circleci.Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answer(n.Add(1), r))
	}))
	t.Cleanup(srv.Close)
	c, err := circleci.New(circleci.Options{Host: srv.URL, Token: "cci-token-0123456789", HTTP: circlecitest.FastHTTP()})
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

const workflowJSON = `{"id":"w%d","name":"deploy","status":"success","pipeline_id":"p","project_slug":"gh/acme/api","pipeline_number":1,"created_at":"2025-03-01T12:00:00Z"}`

func TestPaginationStops(t *testing.T) {
	tests := []struct {
		name      string
		next      func(n int64) string
		list      func(c *circleci.Client) error
		wantCalls int64
		wantErr   string // "" means the walk ends quietly
	}{
		{name: "a repeated next_page_token", next: func(int64) string { return "same" },
			list: func(c *circleci.Client) error {
				_, err := c.Pipelines.Workflows(context.Background(), "p")
				return err
			},
			wantCalls: 2, wantErr: `next_page_token "same" names a page already read`},
		{name: "a token cycle", next: func(n int64) string { return fmt.Sprint("t", n%3) },
			list: func(c *circleci.Client) error {
				_, err := circleci.Collect(c.Pipelines.All(context.Background(), "gh/acme/api", nil, 0))
				return err
			},
			wantCalls: 4, wantErr: "names a page already read"},
		{name: "tokens without end on a short list", next: func(n int64) string { return fmt.Sprint("t", n) },
			list: func(c *circleci.Client) error {
				_, err := c.Pipelines.Workflows(context.Background(), "p")
				return err
			},
			wantCalls: 50, wantErr: "more than 50 pages"},
		{name: "tokens without end on a project list", next: func(n int64) string { return fmt.Sprint("t", n) },
			list: func(c *circleci.Client) error {
				for _, err := range c.Pipelines.Pages(context.Background(), "gh/acme/api", nil, 0) {
					if err != nil {
						return err
					}
				}
				return nil
			},
			wantCalls: circleci.PageLimit, wantErr: fmt.Sprintf("more than %d pages", circleci.PageLimit)},
		{name: "a caller's own bound ends quietly", next: func(n int64) string { return fmt.Sprint("t", n) },
			list: func(c *circleci.Client) error {
				_, err := circleci.Collect(c.Pipelines.All(context.Background(), "gh/acme/api", nil, 3))
				return err
			},
			wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, calls := misbehaving(t, func(n int64, r *http.Request) string {
				item := fmt.Sprintf(workflowJSON, n)
				if strings.HasSuffix(r.URL.Path, "/pipeline") {
					item = fmt.Sprintf(`{"id":"p%d","number":%d,"state":"created","created_at":"2025-03-01T12:00:00Z"}`, n, 10000-n)
				}
				return fmt.Sprintf(`{"items":[%s],"next_page_token":%q}`, item, tt.next(n))
			})
			err := tt.list(c)
			if calls.Load() != tt.wantCalls {
				t.Errorf("%d requests, want %d", calls.Load(), tt.wantCalls)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			var pe *circleci.PaginationError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.wantErr) || exitcode.Of(err) != exitcode.CouldNotRun {
				t.Fatalf("err = %v (exit %d), want a *PaginationError saying %q (exit 3)", err, exitcode.Of(err), tt.wantErr)
			}
		})
	}
}

func TestUnexpectedResponse(t *testing.T) {
	tests := []struct {
		name string
		body string
		call func(c *circleci.Client) error
		want string
	}{
		{name: "a pipeline without id", body: `{"state":"created","number":7}`,
			call: func(c *circleci.Client) error { _, err := c.Pipelines.Get(context.Background(), "p1"); return err },
			want: "unexpected response from GET /pipeline/p1 (field id missing)"},
		{name: "a pipeline without number", body: `{"id":"p1","state":"created","created_at":"2025-03-01T12:00:00Z"}`,
			call: func(c *circleci.Client) error { _, err := c.Pipelines.Get(context.Background(), "p1"); return err },
			want: "unexpected response from GET /pipeline/p1 (field number missing)"},
		{name: "a workflow without status", body: `{"items":[{"id":"w1","name":"deploy","pipeline_id":"p1"}],"next_page_token":null}`,
			call: func(c *circleci.Client) error {
				_, err := c.Pipelines.Workflows(context.Background(), "p1")
				return err
			},
			want: "unexpected response from GET /pipeline/p1/workflow (field items[0].status missing)"},
		{name: "a list without items", body: `{"next_page_token":null}`,
			call: func(c *circleci.Client) error {
				_, err := c.Pipelines.Workflows(context.Background(), "p1")
				return err
			},
			want: "unexpected response from GET /pipeline/p1/workflow (field items missing)"},
		{name: "a trigger answer without id", body: `{}`,
			call: func(c *circleci.Client) error {
				_, err := c.Pipelines.Trigger(context.Background(), "gh/acme/api", circleci.TriggerRequest{Branch: "main"})
				return err
			},
			want: "unexpected response from POST /project/gh/acme/api/pipeline (field id missing)"},
		{name: "an HTML page", body: `<html>sign in</html>`,
			call: func(c *circleci.Client) error {
				_, err := c.Projects.Get(context.Background(), "gh/acme/api")
				return err
			},
			want: "unexpected response from GET /project/gh/acme/api (not the expected JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := misbehaving(t, func(int64, *http.Request) string { return tt.body })
			err := tt.call(c)
			var ue *circleci.UnexpectedResponseError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || exitcode.Of(err) != exitcode.CouldNotRun {
				t.Fatalf("err = %v (exit %d), want %q (exit 3)", err, exitcode.Of(err), tt.want)
			}
		})
	}
}

func TestHostMustBeAURL(t *testing.T) {
	for _, host := range []string{"circleci.example.com", "ftp://circleci.example.com", "https://"} {
		_, err := circleci.FromEnv(config.MapEnv(map[string]string{"CIRCLE_TOKEN": "abcd1234", circleci.HostEnv: host}), circleci.Options{})
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "PMGUARD_CIRCLECI_HOST") || !strings.Contains(err.Error(), "https://circleci.example.com") {
			t.Errorf("host %q: err = %v (exit %d), want exit 2 naming PMGUARD_CIRCLECI_HOST and the accepted form", host, err, exitcode.Of(err))
		}
	}
}

// A redirect to another host must not carry the token there.
func TestTokenStaysOnTheAPIHost(t *testing.T) {
	const token = "cci-redirect-secret-0123456789"
	var mu sync.Mutex
	var apiTokens, otherTokens []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherTokens = append(otherTokens, r.Header.Get("Circle-Token"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"pr1","slug":"gh/acme/api","name":"api"}`)
	}))
	t.Cleanup(other.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		apiTokens = append(apiTokens, r.Header.Get("Circle-Token"))
		mu.Unlock()
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(api.Close)
	c, err := circleci.New(circleci.Options{Host: api.URL, Token: token, HTTP: circlecitest.FastHTTP()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Projects.Get(context.Background(), "gh/acme/api")
	if err != nil || p.ID != "pr1" {
		t.Fatalf("project %+v, err %v: the redirect was not followed", p, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(apiTokens) != 1 || apiTokens[0] != token {
		t.Fatalf("the API host got tokens %q, want the token once", apiTokens)
	}
	if len(otherTokens) != 1 || otherTokens[0] != "" {
		t.Fatalf("the other host got Circle-Token %q, want no header", otherTokens)
	}
}

// A list that shifts while it is read repeats items on the next page (new
// workflows push older ones down): each is returned once.
func TestShiftingPagesReturnEachItemOnce(t *testing.T) {
	c, _ := misbehaving(t, func(n int64, r *http.Request) string {
		switch n {
		case 1:
			return `{"items":[` + fmt.Sprintf(workflowJSON, 1) + `,` + fmt.Sprintf(workflowJSON, 2) + `],"next_page_token":"p2"}`
		default:
			return `{"items":[` + fmt.Sprintf(workflowJSON, 2) + `,` + fmt.Sprintf(workflowJSON, 3) + `],"next_page_token":null}`
		}
	})
	wfs, err := c.Pipelines.Workflows(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range wfs {
		ids = append(ids, w.ID)
	}
	if got := strings.Join(ids, ","); got != "w1,w2,w3" {
		t.Fatalf("workflows %s, want w1,w2,w3 (w2 repeated by the shifted second page once)", got)
	}
}
