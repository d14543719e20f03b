package httpx_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// A request marked OnlyUnservedRetries is retried after a 429 (the server
// did not act on it) and never after a 5xx (it may have).
func TestOnlyUnservedRetries(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   int32 // requests the server sees
	}{{http.StatusBadGateway, 1}, {http.StatusServiceUnavailable, 1}, {http.StatusTooManyRequests, 3}} {
		var n atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) < 3 {
				w.WriteHeader(tc.status)
				return
			}
			w.WriteHeader(http.StatusCreated)
		}))
		c := httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: time.Millisecond})
		req, _ := http.NewRequestWithContext(httpx.OnlyUnservedRetries(context.Background()), http.MethodPost, srv.URL, strings.NewReader("{}"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if n.Load() != tc.want {
			t.Errorf("after %d: the server saw %d requests, want %d", tc.status, n.Load(), tc.want)
		}
	}
}

// A connection that was never made (refused) is retried under
// OnlyUnservedRetries: nothing was sent. One the server accepted and then
// dropped is not: the request may have reached it.
func TestOnlyUnservedRetriesRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := l.Addr().String()
	l.Close()
	dropped, accepted := closingListener(t)
	for _, tc := range []struct {
		addr    string
		retries int
	}{{refused, 2}, {dropped, 0}} {
		var retries atomic.Int32
		c := httpx.New(httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond,
			Log: func(s string) {
				if strings.HasPrefix(s, "retrying") {
					retries.Add(1)
				}
			}})
		req, _ := http.NewRequestWithContext(httpx.OnlyUnservedRetries(context.Background()), http.MethodPost, "http://"+tc.addr+"/issues", strings.NewReader("{}"))
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("%s: no error", tc.addr)
		}
		if int(retries.Load()) != tc.retries {
			t.Errorf("%s: %d retries, want %d", tc.addr, retries.Load(), tc.retries)
		}
	}
	if accepted.Load() != 1 {
		t.Errorf("the dropping server accepted %d connections, want 1", accepted.Load())
	}
}
