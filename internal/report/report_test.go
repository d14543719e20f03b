package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/report"
)

// The JUnit shape CircleCI's store_test_results reads.
type suites struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitShape(t *testing.T) {
	awkward := `status 500 <html> & "quotes" ]]> ` + "\x00\x1b" + ` done`
	s := report.Suite{
		Name:     "pmguard health",
		Duration: 1500 * time.Millisecond,
		Cases: []report.Case{
			{Name: "https://a/health", ClassName: "health", Duration: 250 * time.Millisecond, Output: "attempt 1: 200"},
			{Name: "https://b/health?x=1&y=2", Duration: time.Second, Failure: "status 503, want 200\nattempt 3 of 3", Output: awkward},
			{Name: "https://c/health", Skipped: "not checked"},
		},
	}
	b, err := report.JUnit(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(xml.Header)) {
		t.Error("no XML header")
	}
	var got suites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, b)
	}
	if len(got.Suites) != 1 {
		t.Fatalf("%d suites", len(got.Suites))
	}
	su := got.Suites[0]
	if su.Name != "pmguard health" || su.Tests != 3 || su.Failures != 1 || su.Skipped != 1 || su.Time != "1.500" {
		t.Errorf("suite attributes: %+v", su)
	}
	if len(su.Cases) != 3 {
		t.Fatalf("%d cases", len(su.Cases))
	}
	a, f, k := su.Cases[0], su.Cases[1], su.Cases[2]
	if a.Name != "https://a/health" || a.ClassName != "health" || a.Time != "0.250" || a.Failure != nil || a.SystemOut != "attempt 1: 200" {
		t.Errorf("passing case: %+v", a)
	}
	if f.ClassName != "pmguard health" {
		t.Errorf("a case without a class name takes the suite's: %q", f.ClassName)
	}
	if f.Name != "https://b/health?x=1&y=2" || f.Failure == nil || f.Failure.Message != "status 503, want 200" || f.Failure.Body != "status 503, want 200\nattempt 3 of 3" {
		t.Errorf("failing case: %+v", f)
	}
	if !strings.Contains(f.SystemOut, `<html> & "quotes" ]]>`) {
		t.Errorf("system-out lost its text: %q", f.SystemOut)
	}
	if k.Skipped == nil || k.Skipped.Message != "not checked" || k.Failure != nil {
		t.Errorf("skipped case: %+v", k)
	}
}

func TestWriteReportsEmptyPathWritesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := report.WriteJUnit("", report.Suite{}); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON("", map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files written for an empty path: %v", entries)
	}
}

func TestWriteJSONAndJUnitFiles(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "reports", "deep", "health.json")
	if err := report.WriteJSON(jsonPath, map[string]any{"pass": false, "failed": 2}); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Pass   bool `json:"pass"`
		Failed int  `json:"failed"`
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Pass || v.Failed != 2 {
		t.Errorf("JSON report %s: %+v %v", raw, v, err)
	}
	if st, _ := os.Stat(jsonPath); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so the artifact uploader can read it", st.Mode().Perm())
	}
	junitPath := filepath.Join(dir, "junit.xml")
	if err := report.WriteJUnit(junitPath, report.Suite{Name: "x", Cases: []report.Case{{Name: "c"}}}); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(junitPath)
	var got suites
	if err := xml.Unmarshal(raw, &got); err != nil || len(got.Suites) != 1 || len(got.Suites[0].Cases) != 1 {
		t.Errorf("JUnit file: %v %s", err, raw)
	}
	// Unencodable values are an error, and nothing is written.
	bad := filepath.Join(dir, "bad.json")
	if err := report.WriteJSON(bad, map[string]any{"f": func() {}}); err == nil {
		t.Error("want an error for a value JSON cannot hold")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Error("a failed report left a file")
	}
}

// TestWriteFileIsAtomic checks that a reader never sees half a report: while
// one goroutine rewrites the file with two different contents, every read
// returns one of them whole.
func TestWriteFileIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	contents := [][]byte{bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 512<<10)}
	if err := report.WriteFile(path, contents[0]); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, bad int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(path)
			reads++
			if err != nil || !(bytes.Equal(b, contents[0]) || bytes.Equal(b, contents[1])) {
				bad++
			}
		}
	}()
	for i := 0; i < 200; i++ {
		if err := report.WriteFile(path, contents[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if bad > 0 {
		t.Errorf("%d of %d reads saw a partial or missing report", bad, reads)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only report.json", names)
	}
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"parent is a file", filepath.Join(file, "report.xml")},
		{"path is a directory", dir},
	}
	for _, tt := range tests {
		err := report.WriteFile(tt.path, []byte("x"))
		if err == nil {
			t.Errorf("%s: want an error", tt.name)
			continue
		}
		if !strings.Contains(err.Error(), tt.path) {
			t.Errorf("%s: error %q should name the path", tt.name, err)
		}
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Errorf("existing file changed: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %d entries", len(entries))
	}
}
