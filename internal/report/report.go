// Package report writes the machine-readable reports a verdict produces:
// JUnit XML (shown by CircleCI's store_test_results) and JSON. Files are
// written to a temporary name and renamed, so a reader never sees half a report.
package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Suite is one JUnit test suite: one verdict, one case per checked thing.
type Suite struct {
	Name     string
	Duration time.Duration
	Cases    []Case
}

// Case is one checked thing (an endpoint, a canary metric, a migration).
type Case struct {
	Name      string
	ClassName string
	Duration  time.Duration
	Failure   string // empty: passed
	Skipped   string // non-empty: skipped with this reason
	Output    string // system-out: the attempts, the figures
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// JUnit renders suite as JUnit XML.
func JUnit(s Suite) ([]byte, error) {
	js := junitSuite{Name: s.Name, Tests: len(s.Cases), Time: seconds(s.Duration)}
	for _, c := range s.Cases {
		jc := junitCase{Name: c.Name, ClassName: c.ClassName, Time: seconds(c.Duration), SystemOut: c.Output}
		if jc.ClassName == "" {
			jc.ClassName = s.Name
		}
		if c.Failure != "" {
			js.Failures++
			jc.Failure = &junitMessage{Message: firstLine(c.Failure), Body: c.Failure}
		} else if c.Skipped != "" {
			js.Skipped++
			jc.Skipped = &junitMessage{Message: c.Skipped}
		}
		js.Cases = append(js.Cases, jc)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{js}}); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// WriteJUnit writes suite as JUnit XML to path; an empty path writes nothing.
func WriteJUnit(path string, s Suite) error {
	if path == "" {
		return nil
	}
	b, err := JUnit(s)
	if err != nil {
		return err
	}
	return WriteFile(path, b)
}

// WriteJSON writes v as indented JSON to path; an empty path writes nothing.
func WriteJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'))
}

// WriteFile writes data to path atomically, creating the directory.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}
