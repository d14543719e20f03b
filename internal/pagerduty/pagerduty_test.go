package pagerduty_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/pagerduty"
	"github.com/pmguard/pmguard/internal/pagerduty/pagerdutytest"
)

func at(hhmm string) time.Time {
	t, _ := time.Parse(time.RFC3339, "2026-11-20T"+hhmm+":00Z")
	return t
}

func fast() *httpx.Client {
	return httpx.New(httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond, MaxRetryAfter: 2 * time.Millisecond})
}

func seed(t *testing.T) (*pagerdutytest.Server, *pagerduty.Client) {
	s := pagerdutytest.New(t)
	s.AddIncident(pagerduty.Incident{ID: "Q1CHECKOUT", Number: 4242, Title: "Checkout error rate above 5%", Status: "resolved", CreatedAt: at("14:12")})
	s.Log("Q1CHECKOUT", "trigger", at("14:12"), "Triggered through the API", "")
	s.Log("Q1CHECKOUT", "acknowledge", at("14:15"), "Acknowledged", "")
	s.Log("Q1CHECKOUT", "annotate", at("14:20"), "Note added", "SEV-2: checkout writes failing")
	s.Log("Q1CHECKOUT", "resolve", at("14:45"), "Resolved", "")
	c, err := pagerduty.New(pagerduty.Options{BaseURL: s.URL(), Token: pagerdutytest.Token, HTTP: fast(), MaxPages: 5})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestIncidentLogAndNotes(t *testing.T) {
	s, c := seed(t)
	for i := 0; i < 197; i++ { // 201 entries: three pages of 100
		s.Log("Q1CHECKOUT", "notify", at("14:13").Add(time.Duration(i)*time.Second), "Notified", "")
	}
	ctx := context.Background()
	inc, err := c.Incident(ctx, "Q1CHECKOUT")
	if err != nil || inc.Number != 4242 || !inc.CreatedAt.Equal(at("14:12")) {
		t.Fatalf("incident %+v, %v", inc, err)
	}
	es, err := c.LogEntries(ctx, "Q1CHECKOUT")
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 201 || es[0].Type != "trigger_log_entry" || es[len(es)-1].Type != "resolve_log_entry" {
		t.Fatalf("%d entries, first %+v last %+v", len(es), es[0], es[len(es)-1])
	}
	pages := 0
	for _, call := range s.Calls() {
		if strings.Contains(call, "/log_entries") {
			pages++
		}
	}
	if pages != 3 {
		t.Errorf("%d pages read, want 3", pages)
	}
	notes, err := c.Notes(ctx, "Q1CHECKOUT")
	if err != nil || len(notes) != 1 || notes[0].Content != "SEV-2: checkout writes failing" {
		t.Fatalf("notes %+v, %v", notes, err)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	t.Run("429 then answer", func(t *testing.T) {
		s, c := seed(t)
		s.Inject(apitest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Body: `{"error":{"message":"Rate Limit Exceeded","code":2020}}`, Times: 1})
		if _, err := c.Incident(ctx, "Q1CHECKOUT"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("5xx after retries", func(t *testing.T) {
		s, c := seed(t)
		s.Inject(apitest.Fault{Status: http.StatusBadGateway, Body: `<html>bad gateway</html>`})
		_, err := c.LogEntries(ctx, "Q1CHECKOUT")
		if err == nil || !strings.Contains(err.Error(), "HTTP 502") || strings.Contains(err.Error(), pagerdutytest.Token) {
			t.Fatalf("err = %v", err)
		}
		if n := len(s.Calls()); n != 3 {
			t.Errorf("%d attempts, want 3 (1 + 2 retries)", n)
		}
	})
	t.Run("endless pages", func(t *testing.T) {
		s, c := seed(t)
		s.AlwaysMore = true
		es, err := c.LogEntries(ctx, "Q1CHECKOUT")
		if err == nil || !strings.Contains(err.Error(), "after 5 pages") {
			t.Fatalf("err = %v", err)
		}
		// What was read is still given oldest first (the first trigger is
		// the detection).
		if len(es) < 2 || !sort.SliceIsSorted(es, func(i, j int) bool { return es[i].CreatedAt.Before(es[j].CreatedAt) }) ||
			es[0].CreatedAt.Equal(es[len(es)-1].CreatedAt) {
			t.Errorf("%d entries read before the bound, not oldest first", len(es))
		}
	})
	t.Run("wrong-shaped 200", func(t *testing.T) {
		s, c := seed(t)
		s.Inject(apitest.Fault{Status: 200, Body: `{"entries":[]}`, Times: 1})
		_, err := c.LogEntries(ctx, "Q1CHECKOUT")
		if err == nil || !strings.Contains(err.Error(), "without log_entries") {
			t.Fatalf("err = %v", err)
		}
		s.Inject(apitest.Fault{Status: 200, Body: `<html>login</html>`, Times: 1})
		_, err = c.Incident(ctx, "Q1CHECKOUT")
		if err == nil || !strings.Contains(err.Error(), "not the expected JSON") {
			t.Fatalf("err = %v", err)
		}
	})
}
