package suggest

import "testing"

func TestClosest(t *testing.T) {
	verbs := []string{"health", "canary", "rollback", "notify", "postmortem", "dora", "migrations", "demo", "version"}
	cases := map[string]string{
		"helth": "health", "heath": "health", "canery": "canary", "rollbak": "rollback",
		"migration": "migrations", "post": "postmortem", "vesion": "version",
		"xyz": "", "deploy": "", "h": "",
	}
	for in, want := range cases {
		if got := Closest(in, verbs); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Closest("endpont", []string{"endpoint", "expect-status"}); got != "endpoint" {
		t.Errorf("flag: %q", got)
	}
	// Two adjacent letters swapped are one typo.
	for in, want := range map[string]string{"ULR": "URL", "ENDPIONTS": "ENDPOINTS", "UIR": ""} {
		if got := Closest(in, []string{"URL", "ENDPOINTS", "TIMEOUT"}); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
