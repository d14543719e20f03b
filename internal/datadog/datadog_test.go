package datadog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/datadog"
	"github.com/pmguard/pmguard/internal/datadog/datadogtest"
	"github.com/pmguard/pmguard/internal/httpx"
)

func at(hhmm string) time.Time {
	t, _ := time.Parse(time.RFC3339, "2026-11-20T"+hhmm+":00Z")
	return t
}

func client(t *testing.T, s *datadogtest.Server) *datadog.Client {
	c, err := datadog.New(datadog.Options{Site: s.URL(), APIKey: datadogtest.APIKey, AppKey: datadogtest.AppKey, MaxPages: 4,
		NewHTTP: func(o httpx.Options) *httpx.Client {
			o.Retries, o.WaitMin, o.WaitMax, o.MaxRetryAfter = 2, time.Millisecond, 2*time.Millisecond, 2*time.Millisecond
			return httpx.New(o)
		}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMonitorTransitionsInWindow(t *testing.T) {
	s := datadogtest.New(t)
	s.PageSize = 2
	s.Monitor(777, "Checkout error rate", "alert", at("11:00"), "earlier, outside the window")
	s.Monitor(777, "Checkout error rate", "alert", at("14:12"), "Error rate 25% > 5% on service:checkout")
	s.Add(datadog.Event{Time: at("14:14"), Title: "Deploy note", Status: "info", Tags: []string{"service:checkout"}})
	s.Add(datadog.Event{Time: at("14:16"), Title: "Other service", Status: "info", Tags: []string{"service:search"}})
	s.Monitor(777, "Checkout error rate", "recovered", at("14:31"), "Error rate back to 1%")
	evs, err := client(t, s).Events(context.Background(), "service:checkout", at("13:30"), at("16:00"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Time.Format("15:04")+" "+e.Transition()+" "+e.Title)
	}
	want := "14:12 alert [Triggered] Checkout error rate|14:14  Deploy note|14:31 recovered [Recovered] Checkout error rate"
	if strings.Join(got, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	if evs[0].MonitorID != 777 || evs[0].Monitor != "Checkout error rate" {
		t.Errorf("monitor = %d %q", evs[0].MonitorID, evs[0].Monitor)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	seed := func(t *testing.T) *datadogtest.Server {
		s := datadogtest.New(t)
		s.Monitor(777, "Checkout error rate", "alert", at("14:12"), "")
		return s
	}
	t.Run("429 waits X-RateLimit-Reset", func(t *testing.T) {
		s := seed(t)
		s.Inject(apitest.Fault{Status: 429, Header: map[string][]string{"X-Ratelimit-Reset": {"1"}}, Body: `{"errors":["Rate limit exceeded"]}`, Times: 1})
		if evs, err := client(t, s).Events(ctx, "", at("14:00"), at("15:00")); err != nil || len(evs) != 1 {
			t.Fatalf("%v %v", evs, err)
		}
	})
	t.Run("5xx", func(t *testing.T) {
		s := seed(t)
		s.Inject(apitest.Fault{Status: 503, Body: `{"errors":["Service unavailable"]}`})
		_, err := client(t, s).Events(ctx, "", at("14:00"), at("15:00"))
		if err == nil || !strings.Contains(err.Error(), "HTTP 503: Service unavailable") || strings.Contains(err.Error(), datadogtest.APIKey) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("endless", func(t *testing.T) {
		s := seed(t)
		s.Endless = true
		_, err := client(t, s).Events(ctx, "", at("14:00"), at("15:00"))
		if err == nil || !strings.Contains(err.Error(), "after 4 pages") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("403 on either API names the keys' scope", func(t *testing.T) {
		s := seed(t)
		s.Inject(apitest.Fault{Status: 403, Body: `{"errors":["Forbidden"]}`})
		for api, read := range map[string]func(context.Context, string, time.Time, time.Time) ([]datadog.Event, error){
			"v2": client(t, s).Events, "v1": client(t, s).EventsV1} {
			_, err := read(ctx, "", at("14:00"), at("15:00"))
			if err == nil || !strings.Contains(err.Error(), "HTTP 403: Forbidden") || !strings.Contains(err.Error(), "events_read") || strings.Contains(err.Error(), datadogtest.AppKey) {
				t.Errorf("%s: err = %v", api, err)
			}
		}
	})
	t.Run("wrong shape", func(t *testing.T) {
		s := seed(t)
		s.Inject(apitest.Fault{Status: 200, Body: `{"events":[]}`, Times: 1})
		_, err := client(t, s).Events(ctx, "", at("14:00"), at("15:00"))
		if err == nil || !strings.Contains(err.Error(), "without data") {
			t.Fatalf("err = %v", err)
		}
	})
}

// The v1 events stream gives the same monitor transitions.
func TestEventsV1(t *testing.T) {
	s := datadogtest.New(t)
	s.Monitor(777, "Checkout error rate", "alert", at("14:12"), "Error rate 25%")
	s.Monitor(777, "Checkout error rate", "recovered", at("14:31"), "back to 1%")
	s.Add(datadog.Event{Time: at("14:16"), Title: "Other service", Status: "info", Tags: []string{"service:search"}})
	evs, err := client(t, s).EventsV1(context.Background(), "service:checkout", at("13:30"), at("16:00"))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Transition() != "alert" || evs[1].Transition() != "recovered" || !evs[0].Time.Equal(at("14:12")) {
		t.Fatalf("%+v", evs)
	}
	s.Inject(apitest.Fault{Status: 200, Body: `{"status":"ok"}`, Times: 1})
	if _, err := client(t, s).EventsV1(context.Background(), "", at("13:30"), at("16:00")); err == nil || !strings.Contains(err.Error(), "without events") {
		t.Errorf("wrong shape: %v", err)
	}
}
