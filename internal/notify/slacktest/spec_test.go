package slacktest

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/pmguard/pmguard/internal/testspecs"
)

var updateSpec = flag.Bool("update-spec", false, "rewrite slack-web-api.subset.json from testdata/specs/slack-web-api.openapi.json")

// fullSpec reads Slack's whole spec, vendored at the module root in
// testdata/specs (see its SOURCES.md).
func fullSpec(t *testing.T) []byte {
	t.Helper()
	b, err := testspecs.Read("slack-web-api.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpecSubset(t *testing.T) {
	full := fullSpec(t)
	want, err := Subset(full, Methods)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *updateSpec {
		if err := os.WriteFile("slack-web-api.subset.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(want, subsetJSON) {
		t.Fatal("slack-web-api.subset.json is not the subset of testdata/specs/slack-web-api.openapi.json: run go test ./internal/notify/slacktest -run TestSpecSubset -update-spec")
	}
}

func TestSpecValidatorCatchesShapes(t *testing.T) {
	s, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		method string
		body   string
		bad    bool
	}{
		{"good post", "chat.postMessage", `{"ok":true,"channel":"C0123456789","ts":"1700000000.000100","message":{"type":"message","text":"x","ts":"1700000000.000100"}}`, false},
		{"ts not Slack format", "chat.postMessage", `{"ok":true,"channel":"C0123456789","ts":"17.1","message":{"type":"message","text":"x","ts":"17.1"}}`, true},
		{"missing message", "chat.postMessage", `{"ok":true,"channel":"C0123456789","ts":"1700000000.000100"}`, true},
		{"unknown error code", "chat.postMessage", `{"ok":false,"error":"no_such_code"}`, true},
		{"known error", "chat.postMessage", `{"ok":false,"error":"not_in_channel"}`, false},
		{"extra property", "chat.postMessage", `{"ok":false,"error":"not_in_channel","surprise":1}`, true},
		{"post_at string", "chat.scheduleMessage", `{"ok":true,"channel":"C0123456789","post_at":"1700000000","scheduled_message_id":"Q0123456789","message":{"type":"delayed_message","text":"x","bot_id":"B0123456789","user":"U0123456789","team":"T0123456789"}}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := s.CheckResponse(c.method, []byte(c.body))
			if (len(errs) > 0) != c.bad {
				t.Fatalf("violations %v, want bad=%v", errs, c.bad)
			}
		})
	}
	if errs := s.CheckRequest("chat.postMessage", "application/x-www-form-urlencoded", map[string][]string{"text": {"x"}, "bogus": {"1"}}, true); len(errs) != 2 {
		t.Fatalf("want missing channel and unknown bogus, got %v", errs)
	}
	if errs := s.CheckRequest("chat.postMessage", "application/x-www-form-urlencoded", map[string][]string{"channel": {"C1"}, "unfurl_links": {"maybe"}}, true); len(errs) != 1 {
		t.Fatalf("want a bad boolean, got %v", errs)
	}
}
