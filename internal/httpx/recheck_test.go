package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// store is a server that keeps what it was posted; fail makes it answer
// with a status before (or, with after, once) it stores the post, or drop
// the connection after storing it.
type store struct {
	mu    sync.Mutex
	posts []string
	calls int
	fail  []func(w http.ResponseWriter) (after bool)
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	var f func(http.ResponseWriter) bool
	if len(s.fail) > 0 {
		f, s.fail = s.fail[0], s.fail[1:]
	}
	if f != nil && !f(w) {
		return // failed before doing anything
	}
	s.posts = append(s.posts, r.URL.Query().Get("id"))
	if f == nil {
		w.WriteHeader(http.StatusCreated)
	}
}

func (s *store) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.posts {
		if p == id {
			return true
		}
	}
	return false
}

func status(code int, after bool) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		w.WriteHeader(code)
		return after
	}
}

// dropAfter stores the post, then drops the connection without an answer.
func dropAfter(w http.ResponseWriter) bool {
	defer func() {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}()
	return true
}

// A write marked RecheckBeforeRetry is sent again after a failure that may
// come after the work only when done finds the work absent; a 429 is
// retried without asking.
func TestRecheckBeforeRetry(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fail       []func(http.ResponseWriter) bool
		checkErr   error
		wantCalls  int
		wantChecks int
		wantPosts  int
		wantErr    any
	}{
		{"500 after the work", []func(http.ResponseWriter) bool{status(500, true)}, nil, 1, 1, 1, new(*httpx.AlreadyDone)},
		{"dropped after the work", []func(http.ResponseWriter) bool{dropAfter}, nil, 1, 1, 1, new(*httpx.AlreadyDone)},
		{"500 before the work", []func(http.ResponseWriter) bool{status(502, false), status(500, false)}, nil, 3, 2, 1, nil},
		{"429", []func(http.ResponseWriter) bool{status(429, false)}, nil, 2, 0, 1, nil},
		{"check fails", []func(http.ResponseWriter) bool{status(503, false)}, errors.New("history unreadable"), 1, 1, 0, new(*httpx.Unconfirmed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &store{fail: tc.fail}
			srv := httptest.NewServer(s)
			defer srv.Close()
			var logged []string
			c := httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: time.Millisecond,
				Log: func(m string) { logged = append(logged, m) }})
			checks := 0
			ctx := httpx.RecheckBeforeRetry(context.Background(), func(ctx context.Context) (bool, error) {
				checks++
				if tc.checkErr != nil {
					return false, tc.checkErr
				}
				return s.has("n1"), nil
			})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/post?id=n1", strings.NewReader("{}"))
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr != nil && !errors.As(err, tc.wantErr):
				t.Fatalf("error %v, want %T", err, tc.wantErr)
			}
			if s.calls != tc.wantCalls || checks != tc.wantChecks || len(s.posts) != tc.wantPosts {
				t.Fatalf("%d call(s), %d check(s), %d post(s); want %d, %d, %d\n%s", s.calls, checks, len(s.posts), tc.wantCalls, tc.wantChecks, tc.wantPosts, strings.Join(logged, "\n"))
			}
			if err != nil && strings.Contains(err.Error(), "n1") {
				t.Fatalf("the query value is in the error: %v", err)
			}
		})
	}
}

// The error an http.Client wraps a transport's error in names the URL with
// its user name and query values (net/http masks only a password):
// Redactor.Error hides them, for a library's client (StandardClient) too.
func TestErrorRedactsURLErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.Listener.Addr().String()
	dead.Close()
	c := httpx.New(httpx.Options{Retries: -1})
	_, err := c.StandardClient().Get("http://tokuser-0a1b2c3d@" + addr + "/api/x?sig=s3cr3tsig&page=2")
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	msg := c.Redactor().Error(err).Error()
	if strings.Contains(msg, "tokuser-0a1b2c3d") || strings.Contains(msg, "s3cr3tsig") || !strings.Contains(msg, addr+"/api/x") {
		t.Fatalf("%s", msg)
	}
}
