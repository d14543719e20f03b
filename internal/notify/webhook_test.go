package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/httpx"
)

// A 200 is a post only when its body says so: a proxy's login page or
// another service answering 200 posted nothing.
func TestWebhookAnswers(t *testing.T) {
	for _, tc := range []struct {
		body string
		want string // SlackError code; "" accepted
	}{
		{"ok", ""},
		{"", ""},
		{`{"ok":true}`, ""},
		{`{"success":true}`, ""},
		{"<html>Sign in to continue</html>", "unexpected_response"},
		{`{"echo":"x"}`, "unexpected_response"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tc.body) }))
		err := postWebhook(context.Background(), httpx.New(httpx.Options{Retries: -1}), srv.URL+"/services/T/B/secret", 0, Message{Text: "x"})
		srv.Close()
		var se *SlackError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("body %q: %v, want accepted", tc.body, err)
		case tc.want != "" && (!errors.As(err, &se) || se.Code != tc.want):
			t.Errorf("body %q: %v, want %s", tc.body, err, tc.want)
		}
	}
}

// The advice follows the status: a refused token is not "usually brief".
func TestHTTPStatusAdvice(t *testing.T) {
	for code, want := range map[string]string{
		"http_401": "$SLACK_ACCESS_TOKEN", "http_403": "Bot User OAuth Token", "http_404": "PMGUARD_SLACK_API_URL",
		"http_503": "usually brief", "unexpected_response": "not Slack's", "http_400": "refused the request",
	} {
		if got := (&SlackError{Method: "chat.postMessage", Code: code}).Fix(); !strings.Contains(got, want) {
			t.Errorf("%s: advice %q, want it to mention %q", code, got, want)
		}
	}
}
