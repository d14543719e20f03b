package migrations

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/exitcode"
)

// peerCase is one SQL case of another linter's test suite (testdata/squawk,
// see its README), with the verdict pmguard should reach on it.
type peerCase struct {
	id      string // file stem / case name
	squawk  bool   // the peer flags it
	want    string // "blocked", "ok" or "invalid" (exit 2, bad input)
	rules   []string
	differs string // why pmguard's answer differs from the peer's
	pg      int
	file    string // the migration's file name (decides its layout)
	base    string // migrations already deployed, replayed first
	sql     string
}

var rePeerHeader = regexp.MustCompile(`^-- (case|squawk|expect|rules|differs|postgres|file|base):\s?(.*)$`)

// loadPeerCases reads every case of testdata/squawk/*.sql. A case starts at
// a "-- case:" line; its header lines are the "-- key: value" lines right
// after it, and the rest, up to the next case, is the migration.
func loadPeerCases(t *testing.T) []peerCase {
	t.Helper()
	paths, err := filepath.Glob("testdata/squawk/*.sql")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no peer cases: %v", err)
	}
	var out []peerCase
	seen := map[string]bool{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		stem := strings.TrimSuffix(filepath.Base(p), ".sql")
		var cur *peerCase
		inHeader := false
		var body []string
		flush := func() {
			if cur == nil {
				return
			}
			cur.sql = strings.Join(body, "\n") + "\n"
			if cur.want == "" {
				t.Fatalf("%s: case %s has no -- expect: line", p, cur.id)
			}
			out = append(out, *cur)
		}
		for _, line := range strings.Split(string(b), "\n") {
			m := rePeerHeader.FindStringSubmatch(line)
			if m != nil && m[1] == "case" {
				flush()
				id := stem + "/" + strings.TrimSpace(m[2])
				if seen[id] {
					t.Fatalf("%s: case %s twice", p, id)
				}
				seen[id] = true
				cur, inHeader, body = &peerCase{id: id, pg: 13, file: "0002_change.sql"}, true, nil
				continue
			}
			if cur == nil {
				continue // the file's own introduction
			}
			if inHeader && m != nil {
				v := strings.TrimSpace(m[2])
				switch m[1] {
				case "squawk":
					switch v {
					case "flags":
						cur.squawk = true
					case "ok":
					default:
						t.Fatalf("%s: case %s: -- squawk: is flags or ok, not %q", p, cur.id, v)
					}
				case "expect":
					cur.want = v
				case "rules":
					cur.rules = strings.Fields(v)
				case "differs":
					cur.differs = v
				case "postgres":
					cur.pg, _ = strconv.Atoi(v)
				case "file":
					cur.file = v
				case "base":
					cur.base += v + "\n"
				}
				continue
			}
			inHeader = false
			body = append(body, line)
		}
		flush()
	}
	return out
}

// peerFlags says whether pmguard's findings raise the peer case's concern:
// the timeout advice comes with nearly every DDL statement, so it counts
// only for the cases about timeouts.
func peerFlags(c peerCase, rules []string) bool {
	for _, r := range rules {
		if (r != RuleLockTimeout && r != RuleStatementTimeout) || strings.HasPrefix(c.id, "require_timeout_settings/") {
			return true
		}
	}
	return false
}

// TestSquawkCases runs squawk's own rule test cases through the check
// exactly as the verb runs it (git, the deployed schema replayed from the
// base commit, the rules, the deployed-code search, the severities) and
// compares each result with the verdict recorded in the case.
func TestSquawkCases(t *testing.T) {
	cases := loadPeerCases(t)
	r := newRepo(t)
	r.write("README", "peer cases\n")
	dir := func(c peerCase) string { return "db/" + c.id }
	for _, c := range cases {
		if c.base != "" {
			r.write(dir(c)+"/0001_base.sql", c.base)
		}
	}
	base := r.commit("deployed schema")
	for _, c := range cases {
		r.write(dir(c)+"/"+c.file, c.sql)
	}
	head := r.commit("the cases")

	agree, blocked := 0, 0
	var differ []string
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			out := t.TempDir()
			var stdout bytes.Buffer
			o := Options{
				Git:        ExecGit{Dir: r.dir},
				Migrations: []string{dir(c) + "/**/*.sql"},
				Base:       base,
				Head:       head,
				// the other cases' migrations are no deployed code
				CodeExclude:     append(append([]string{}, DefaultCodeExclude...), "db/**"),
				PostgresVersion: c.pg,
				JSONPath:        filepath.Join(out, "report.json"),
				Stdout:          &stdout,
				Stderr:          &stdout,
				Now:             func() time.Time { return time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC) },
			}
			err := Run(context.Background(), &o)
			got, rules := "ok", []string(nil)
			switch exitcode.Of(err) {
			case 0:
			case 1:
				got = "blocked"
			case 2:
				got = "invalid"
			default:
				t.Fatalf("could not run: %v", err)
			}
			if got != "invalid" {
				b, rerr := os.ReadFile(o.JSONPath)
				if rerr != nil {
					t.Fatal(rerr)
				}
				var rep Result
				if jerr := json.Unmarshal(b, &rep); jerr != nil {
					t.Fatal(jerr)
				}
				if len(rep.SchemaUnread) > 0 {
					t.Fatalf("the case's deployed schema was not read: %v", rep.SchemaUnread)
				}
				rules = ruleSet(rep.Findings)
			}
			want := append([]string(nil), c.rules...)
			sort.Strings(want)
			if got != c.want || strings.Join(rules, " ") != strings.Join(want, " ") {
				t.Errorf("pmguard: %s %v (err %v), want %s %v\n%s\n%s", got, rules, err, c.want, want, c.sql, stdout.String())
			}
			flags := got == "invalid" || peerFlags(c, rules)
			switch {
			case flags == c.squawk && c.differs != "":
				t.Errorf("agrees with squawk (flags %v) but says it differs: %s", flags, c.differs)
			case flags != c.squawk && c.differs == "":
				t.Errorf("squawk flags %v, pmguard %v (%v): a difference needs a -- differs: reason", c.squawk, flags, rules)
			}
			if flags == c.squawk {
				agree++
			} else {
				differ = append(differ, c.id)
			}
			if got == "blocked" {
				blocked++
			}
		})
	}
	t.Logf("squawk cases: %d, pmguard agrees on %d, differs on %d (reasons in the cases), blocks %d", len(cases), agree, len(differ), blocked)
	for _, id := range differ {
		t.Logf("differs: %s", id)
	}
}
