package circleci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// APIError is a non-2xx answer from the CircleCI API, after retries.
type APIError struct {
	StatusCode int
	Message    string // CircleCI's "message" (or "error") field, bounded (Redactor.Quote)
	RequestID  string // X-Request-Id, for CircleCI support
	// RateLimitReset is when the rate limit resets (from Retry-After or
	// X-RateLimit-Reset); zero when the answer did not say.
	RateLimitReset time.Time
	Method         string
	Path           string
	TokenEnv       string // the env var the token came from, never its value
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CircleCI API %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if hint := e.Hint(); hint != "" {
		fmt.Fprintf(&b, " (%s)", hint)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request id %s]", e.RequestID)
	}
	return b.String()
}

// Hint says what a user can do about the error.
func (e *APIError) Hint() string {
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		return fmt.Sprintf("invalid token (env %s)", e.TokenEnv)
	case e.StatusCode == http.StatusNotFound && e.IsWrite():
		return "the token may lack write scope or the project is not followed"
	case e.StatusCode == http.StatusNotFound:
		return fmt.Sprintf("not found, or not visible to the token in env %s", e.TokenEnv)
	case e.StatusCode == http.StatusForbidden:
		return fmt.Sprintf("the token in env %s is not allowed to do this", e.TokenEnv)
	case e.StatusCode == http.StatusTooManyRequests && !e.RateLimitReset.IsZero():
		return "rate limited until " + e.RateLimitReset.UTC().Format(time.RFC3339)
	case e.StatusCode == http.StatusTooManyRequests:
		return "rate limited"
	}
	return ""
}

// IsWrite reports whether the failed request was a write.
func (e *APIError) IsWrite() bool { return e.Method != http.MethodGet && e.Method != http.MethodHead }

// IsNotFound reports whether err is an *APIError with status 404.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// StatusOf is the HTTP status of an *APIError in err's chain, or of a
// 429 or 503 whose Retry-After was not waited for (*httpx.WaitError), or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	var we *httpx.WaitError
	if errors.As(err, &we) {
		return we.Status
	}
	return 0
}

func newAPIError(resp *http.Response, body []byte, method, path, tokenEnv string, red *httpx.Redactor) *APIError {
	e := &APIError{
		StatusCode: resp.StatusCode,
		RequestID:  firstHeader(resp.Header, "X-Request-Id", "X-Circleci-Request-Id", "X-Amzn-Requestid"),
		Method:     method,
		Path:       path,
		TokenEnv:   tokenEnv,
	}
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.Message = m.Message
		if e.Message == "" {
			e.Message = m.Error
		}
	} else if len(body) > 0 && len(body) < 300 && !strings.Contains(string(body), "<") {
		e.Message = strings.TrimSpace(string(body))
	}
	e.Message = red.Quote(e.Message)
	now := time.Now()
	if d, ok := httpx.RetryAfter(resp.Header, now); ok {
		e.RateLimitReset = now.Add(d)
	} else if v := firstHeader(resp.Header, "X-RateLimit-Reset", "RateLimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if n > 1e9 { // epoch seconds
				e.RateLimitReset = time.Unix(n, 0)
			} else { // seconds from now
				e.RateLimitReset = now.Add(time.Duration(n) * time.Second)
			}
		}
	}
	return e
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// TokenError is a missing API token: bad input, found before any request.
type TokenError struct{ Env string }

func (e *TokenError) Error() string {
	return fmt.Sprintf("no CircleCI API token: env %s is empty or unset (set it in a context or project env var, or name another variable with token_env / --token-env)", e.Env)
}
