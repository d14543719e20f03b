package testspecs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// source is one row of SOURCES.md's table.
type source struct {
	file, repo, path, commit, licence, kind string
	bytes                                   int64
	sha256                                  string
}

var hexRe = regexp.MustCompile("^`?([0-9a-f]{64}|[0-9a-f]{40})\\b")

// sources parses the table in SOURCES.md: a row is a line starting with
// "| `" whose cells are file, repository, path, commit, licence, whole /
// subset, bytes, sha256.
func sources(t *testing.T, dir string) []source {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []source
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 8 {
			t.Fatalf("SOURCES.md line %d: %d cells, want 8 (file, repository, path, commit, licence, whole/subset, bytes, sha256)", n, len(cells))
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		size, err := strconv.ParseInt(cells[6], 10, 64)
		if err != nil {
			t.Fatalf("SOURCES.md line %d: bytes %q: %v", n, cells[6], err)
		}
		commit := hexRe.FindStringSubmatch(cells[3])
		sum := hexRe.FindStringSubmatch(cells[7])
		if commit == nil || len(commit[1]) != 40 {
			t.Fatalf("SOURCES.md line %d: commit %q is not a full 40-hex commit", n, cells[3])
		}
		if sum == nil || len(sum[1]) != 64 || strings.Trim(cells[7], "`") != sum[1] {
			t.Fatalf("SOURCES.md line %d: sha256 %q is not a full 64-hex SHA-256", n, cells[7])
		}
		for i, what := range []string{"file", "repository", "path", "commit", "licence", "whole / subset"} {
			if cells[i] == "" {
				t.Fatalf("SOURCES.md line %d: empty %s", n, what)
			}
		}
		out = append(out, source{
			file: strings.Trim(cells[0], "`"), repo: cells[1], path: strings.Trim(cells[2], "`"),
			commit: commit[1], licence: cells[4], kind: cells[5], bytes: size, sha256: sum[1],
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVendoredSpecsMatchSources checks every vendored file against its row
// in SOURCES.md: size and SHA-256 computed from the bytes on disk, every
// JSON file listed once, every file parsing, and a subset's x-subset naming
// the commit of its row.
func TestVendoredSpecsMatchSources(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, filepath.FromSlash(Dir))
	rows := sources(t, dir)
	if len(rows) == 0 {
		t.Fatal("SOURCES.md lists no files")
	}
	listed := map[string]bool{}
	for _, r := range rows {
		if listed[r.file] {
			t.Errorf("%s is listed twice", r.file)
		}
		listed[r.file] = true
		t.Run(r.file, func(t *testing.T) {
			b, err := Read(r.file)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) != r.bytes {
				t.Errorf("%d bytes, SOURCES.md says %d", len(b), r.bytes)
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != r.sha256 {
				t.Errorf("SHA-256 %s, SOURCES.md says %s", got, r.sha256)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			sub, isSubset := doc["x-subset"].(map[string]any)
			if strings.HasPrefix(r.kind, "subset") != isSubset {
				t.Errorf("SOURCES.md says %q but the file has x-subset = %v", r.kind, isSubset)
			}
			if isSubset {
				if sub["source_commit"] != r.commit {
					t.Errorf("x-subset.source_commit %v, SOURCES.md says %s", sub["source_commit"], r.commit)
				}
				if sub["source_path"] != r.path {
					t.Errorf("x-subset.source_path %v, SOURCES.md says %s", sub["source_path"], r.path)
				}
				if repo, _ := sub["source_repository"].(string); repo == "" || !strings.HasPrefix(r.repo, repo) {
					t.Errorf("x-subset.source_repository %q, SOURCES.md says %s", repo, r.repo)
				}
			}
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") && !listed[e.Name()] {
			t.Errorf("%s is in %s but not in SOURCES.md", e.Name(), Dir)
		}
	}
}

func TestPathNamesMissingSpec(t *testing.T) {
	if _, err := Path("no-such.openapi.json"); err == nil || !strings.Contains(err.Error(), "SOURCES.md") {
		t.Errorf("Path of a missing spec: %v, want an error pointing at SOURCES.md", err)
	}
}
