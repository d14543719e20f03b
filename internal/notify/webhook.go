package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/pmguard/pmguard/internal/httpx"
)

// postWebhook sends m to an incoming webhook. A webhook posts to the one
// channel it was made for: no threads, no channel choice, no update.
//
// Slack answers a webhook with a plain-text code ("invalid_payload",
// "no_service", "channel_is_archived") and an HTTP status; the code is kept,
// the URL (the secret) never appears in an error.
func postWebhook(ctx context.Context, hc *httpx.Client, webhookURL string, attempts int, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return &SlackError{Method: "webhook", Code: "invalid_url", Detail: "the webhook URL does not parse"}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return classify(ctx, "webhook", "", "", attempts, err)
	}
	defer resp.Body.Close()
	text, _, _ := httpx.ReadLimited(resp.Body, 4096)
	code := strings.TrimSpace(string(text))
	status := "HTTP " + strconv.Itoa(resp.StatusCode)
	switch {
	case resp.StatusCode == http.StatusOK && webhookAccepted(text):
		return nil
	case resp.StatusCode == http.StatusOK:
		// A proxy's page or another service answered: nothing was posted.
		return &SlackError{Method: "webhook", Code: "unexpected_response", Detail: "HTTP 200 without Slack's \"ok\""}
	case resp.StatusCode == http.StatusTooManyRequests:
		return &SlackError{Method: "webhook", Code: "rate_limited", Detail: rateLimitDetail(attempts)}
	case resp.StatusCode >= 500:
		return &SlackError{Method: "webhook", Code: "http_" + strconv.Itoa(resp.StatusCode), Detail: finalDetail(ctx, status, attempts)}
	}
	if !isCode(code) {
		code = "http_" + strconv.Itoa(resp.StatusCode)
	}
	return &SlackError{Method: "webhook", Code: code, Detail: status}
}

// webhookAccepted reports whether a 200's body says the message was taken:
// Slack answers "ok"; Slack-compatible chat servers answer "ok", nothing, or
// JSON with ok/success true.
func webhookAccepted(body []byte) bool {
	s := strings.TrimSpace(string(body))
	if s == "" || s == "ok" {
		return true
	}
	var v struct{ OK, Success bool }
	return json.Unmarshal(body, &v) == nil && (v.OK || v.Success)
}

// isCode reports whether s looks like one of Slack's error codes, so an HTML
// error page is never printed as one.
func isCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
