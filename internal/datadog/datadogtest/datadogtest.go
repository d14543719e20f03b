// Package datadogtest is a Datadog events API stand-in for tests: it keeps
// events, serves them through the v2 API (filtered by window and tags,
// paged by cursor) and the v1 events stream (by start/end and tags, pages
// of 1000), and validates every request and answer against Datadog's
// published OpenAPI files (testdata/specs).
package datadogtest

import (
	_ "embed"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/datadog"
)

// V1Subset is the part of Datadog's v1 file (2 MB, seconds to load under
// the race detector) the stand-in serves: V1Paths and what they reference.
// TestV1Subset keeps it equal to apitest.Subset of the vendored file.
const V1Subset = "datadog-api-v1.subset.json"

// V1Paths are the v1 operations served.
var V1Paths = []string{"/api/v1/events"}

//go:embed datadog-api-v1.subset.json
var v1Subset []byte

// The keys the stand-in accepts.
const (
	APIKey = "dd-api-key-0123456789abcdef"
	AppKey = "dd-app-key-fedcba9876543210"
)

// Server is the stand-in.
type Server struct {
	*apitest.Server
	mu     sync.Mutex
	events []datadog.Event
	// PageSize overrides the client's page[limit] (to test paging).
	PageSize int
	// Endless makes every page point at another one.
	Endless bool
}

// New starts a stand-in.
func New(tb testing.TB) *Server {
	s := &Server{}
	s.Server = apitest.New(tb, apitest.Options{Spec: "datadog-api-v2.openapi.json", More: []string{V1Subset}, Embedded: map[string][]byte{V1Subset: v1Subset}, Authenticate: func(scheme string, r *http.Request) error {
		switch scheme {
		case "apiKeyAuth":
			if r.Header.Get("DD-API-KEY") == APIKey {
				return nil
			}
		case "appKeyAuth":
			if r.Header.Get("DD-APPLICATION-KEY") == AppKey {
				return nil
			}
		}
		return errors.New("not authenticated by " + scheme)
	}})
	s.Handle(http.MethodGet, "/api/v2/events", s.list)
	s.Handle(http.MethodGet, "/api/v1/events", s.listV1)
	return s
}

// Add seeds an event; an empty ID gets one.
func (s *Server) Add(e datadog.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.ID == "" {
		e.ID = "AAAAAZ" + strconv.Itoa(1000+len(s.events))
	}
	s.events = append(s.events, e)
}

// Monitor seeds a monitor state change as Datadog records it: status
// "error" and "[Triggered] name" for an alert, "success" and "[Recovered]".
func (s *Server) Monitor(id int64, name, transition string, t time.Time, message string) {
	title, status := "[Triggered] "+name, "error"
	if transition == "recovered" {
		title, status = "[Recovered] "+name, "success"
	}
	s.Add(datadog.Event{Time: t, Title: title, Status: status, Source: "Monitor Alert", MonitorID: id, Monitor: name, Message: message, Tags: []string{"monitor", "service:checkout"}})
}

// matches understands the query forms the tests use: "" and space-separated
// tags (service:checkout) that must all be present.
func matches(e datadog.Event, query string) bool {
	for _, term := range strings.Fields(query) {
		found := false
		for _, t := range e.Tags {
			found = found || t == term
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Server) list(r *apitest.Request) (int, any, http.Header) {
	q := r.URL.Query()
	from, _ := strconv.ParseInt(q.Get("filter[from]"), 10, 64)
	to, _ := strconv.ParseInt(q.Get("filter[to]"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("page[limit]"))
	s.mu.Lock()
	if s.PageSize > 0 {
		limit = s.PageSize
	}
	var hits []datadog.Event
	for _, e := range s.events {
		if ms := e.Time.UnixMilli(); ms >= from && ms <= to && matches(e, q.Get("filter[query]")) {
			hits = append(hits, e)
		}
	}
	endless := s.Endless
	s.mu.Unlock()
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Time.Before(hits[j].Time) })
	start, _ := strconv.Atoi(strings.TrimPrefix(q.Get("page[cursor]"), "cursor-"))
	if limit <= 0 {
		limit = 10
	}
	if endless && len(hits) > 0 && start >= len(hits) {
		// An endless listing keeps answering with its last event.
		start = len(hits) - 1
	}
	data := []any{}
	for i := start; i < len(hits) && i < start+limit; i++ {
		e := hits[i]
		inner := map[string]any{"title": e.Title, "status": e.Status, "source_type_name": e.Source, "timestamp": e.Time.UnixMilli(), "monitor_id": nil, "monitor": nil}
		if e.MonitorID != 0 {
			inner["monitor_id"] = e.MonitorID
			inner["monitor"] = map[string]any{"id": e.MonitorID, "name": e.Monitor, "type": "query alert"}
		}
		data = append(data, map[string]any{"id": e.ID, "type": "event", "attributes": map[string]any{
			"message": e.Message, "tags": e.Tags, "timestamp": e.Time.UTC().Format(time.RFC3339Nano), "attributes": inner}})
	}
	meta := map[string]any{"elapsed": 3, "request_id": "req-" + strconv.Itoa(start), "status": "done"}
	if next := start + limit; next < len(hits) || endless {
		if endless {
			next = len(s.Calls()) + len(hits)
		}
		meta["page"] = map[string]any{"after": "cursor-" + strconv.Itoa(next)}
	}
	return http.StatusOK, map[string]any{"data": data, "meta": meta, "links": map[string]any{}}, nil
}

func (s *Server) listV1(r *apitest.Request) (int, any, http.Header) {
	q := r.URL.Query()
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	page, _ := strconv.Atoi(q.Get("page"))
	tags := strings.ReplaceAll(q.Get("tags"), ",", " ")
	s.mu.Lock()
	var hits []datadog.Event
	for _, e := range s.events {
		if t := e.Time.Unix(); t >= start && t <= end && matches(e, tags) {
			hits = append(hits, e)
		}
	}
	s.mu.Unlock()
	// The v1 stream lists newest first.
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Time.After(hits[j].Time) })
	out := []any{}
	for i := page * 1000; i < len(hits) && i < (page+1)*1000; i++ {
		e := hits[i]
		out = append(out, map[string]any{"id": 1000 + i, "id_str": e.ID, "alert_type": e.Status, "date_happened": e.Time.Unix(),
			"source_type_name": e.Source, "tags": e.Tags, "text": e.Message, "title": e.Title, "priority": "normal",
			"url": "/event/event?id=" + e.ID, "payload": "{}"})
	}
	return http.StatusOK, map[string]any{"events": out, "status": "ok"}, nil
}
