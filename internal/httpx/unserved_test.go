package httpx_test

import (
	"context"
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
