package metrics

import (
	"net/http"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

type fixedResponse struct {
	h    http.Header
	code int
}

func (f fixedResponse) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: f.code, Header: f.h.Clone(), Body: http.NoBody}, nil
}

// A Datadog 429 carries X-RateLimit-Reset, not Retry-After; the transport
// turns one into the other so httpx's backoff waits for the reset, capped.
func TestRateLimitTransport(t *testing.T) {
	cases := []struct {
		name   string
		code   int
		header http.Header
		max    time.Duration
		want   time.Duration
	}{
		{"reset honoured", 429, http.Header{"X-Ratelimit-Reset": {"7"}}, time.Minute, 7 * time.Second},
		{"reset capped by WaitMax", 429, http.Header{"X-Ratelimit-Reset": {"3600"}}, 30 * time.Second, 30 * time.Second},
		{"Retry-After wins", 429, http.Header{"X-Ratelimit-Reset": {"7"}, "Retry-After": {"2"}}, time.Minute, 2 * time.Second},
		{"garbage reset ignored", 429, http.Header{"X-Ratelimit-Reset": {"soon"}}, time.Minute, 0},
		{"not a 429", 500, http.Header{"X-Ratelimit-Reset": {"7"}}, time.Minute, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "http://x/api/v1/query", nil)
			resp, err := rateLimitTransport{fixedResponse{c.header, c.code}}.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := httpx.RetryAfter(resp.Header, time.Now())
			if c.want == 0 {
				if ok && c.header.Get("Retry-After") == "" {
					t.Errorf("Retry-After %v set", got)
				}
				return
			}
			if b := httpx.Backoff(time.Millisecond, c.max, 1, resp); b != c.want {
				t.Errorf("backoff %v, want %v", b, c.want)
			}
		})
	}
}
