package rollback

import (
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/circleci"
)

// A version known to be bad is found under any of its names: the commit
// in full or abbreviated (7 hex digits at least), or a tag, through any
// pipeline that ran at the tag.
func TestBadVersionsNames(t *testing.T) {
	b, c := strings.Repeat("b", 40), strings.Repeat("c", 40)
	bad := badVersions{tagRev: map[string]string{}}
	bad.learn(&circleci.Pipeline{VCS: &circleci.VCS{Tag: "v1.1", Revision: b}})
	bad.learn(&circleci.Pipeline{VCS: &circleci.VCS{Branch: "main", Revision: c}})
	bad.add("rolled back to v1.1, which failed", "v1.1")
	bad.add("failed", "CCCCCCC")
	for _, tt := range []struct {
		name string
		want bool
	}{
		{b, true},           // the commit v1.1 was seen at
		{"bbbbbbbbb", true}, // abbreviated
		{"v1.1", true},
		{c, true}, // CCCCCCC abbreviates it
		{"ccccccc", true},
		{"cccccc", false}, // 6 digits: not an abbreviated commit
		{"v1.2", false},
		{strings.Repeat("d", 40), false},
		{"bbbbbbbbc", false},
	} {
		if _, got := bad.why(tt.name); got != tt.want {
			t.Errorf("why(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A rollback's version goes by the commit and tag it ran at only when
// they are its pmguard_target_version.
func TestVersionNames(t *testing.T) {
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	rb := func(tv, branch, tag, rev string) *circleci.Pipeline {
		return &circleci.Pipeline{VCS: &circleci.VCS{Branch: branch, Tag: tag, Revision: rev},
			TriggerParameters: map[string]any{ParamRollback: true, ParamTargetVersion: tv}}
	}
	for _, tt := range []struct {
		p    *circleci.Pipeline
		want string
	}{
		{&circleci.Pipeline{VCS: &circleci.VCS{Tag: "v1.0", Revision: a}}, a + ",v1.0"},
		{rb(a, "main", "", b), a},                // ran at the branch head
		{rb("v1.0", "", "v1.0", a), "v1.0," + a}, // ran at the target's tag
		{rb("aaaaaaa", "", "v1.0", a), "aaaaaaa," + a + ",v1.0"},
		{rb("v1.0", "", "v1.2", b), "v1.0"}, // ran at another tag
	} {
		if got := strings.Join(versionNames(tt.p), ","); got != tt.want {
			t.Errorf("versionNames(%+v) = %s, want %s", tt.p.VCS, got, tt.want)
		}
	}
}
