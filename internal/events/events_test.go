package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// When the test binary runs with writerEnv set, TestWriterProcess appends
// events to that file and exits: the multi-process test re-executes the
// binary to get real concurrent writers.
const (
	writerEnv   = "PMGUARD_EVENTS_TEST_WRITER"
	writerID    = "PMGUARD_EVENTS_TEST_WRITER_ID"
	perProcess  = 2000
	writerCount = 2
)

func TestWriterProcess(t *testing.T) {
	path := os.Getenv(writerEnv)
	if path == "" {
		t.Skip("only runs as a child of TestConcurrentProcessesLoseNoLine")
	}
	id := os.Getenv(writerID)
	log, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < perProcess; i++ {
		if err := log.Append(context.Background(), sized(id, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// sized makes events of varied length, some far over a page, so that an
// interleaving of two writers' bytes would corrupt lines.
func sized(writer string, i int) events.Event {
	return events.Event{
		Verb:    "test",
		Event:   "appended",
		Target:  writer,
		Figures: map[string]any{"seq": i},
		Message: strings.Repeat(writer, 1+(i*37)%3000),
	}
}

func TestConcurrentProcessesLoseNoLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for w := 0; w < writerCount; w++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), writerEnv+"="+path, writerID+"="+fmt.Sprintf("w%d", w))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %d: %v\n%s", i, err, outs[i])
		}
	}
	checkAllLines(t, path, writerCount)
}

func TestConcurrentGoroutinesLoseNoLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	var wg sync.WaitGroup
	errs := make(chan error, writerCount)
	for w := 0; w < writerCount; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer opens its own Log, as two steps of one job would.
			log, err := events.Open(path, jobenv.Job{})
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < perProcess; i++ {
				if err := log.Append(context.Background(), sized(fmt.Sprintf("w%d", w), i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkAllLines(t, path, writerCount)
}

// checkAllLines reads path back and checks that every writer's every event is
// there exactly once and that every line is valid JSON.
func checkAllLines(t *testing.T, path string, writers int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if want := writers * perProcess; len(lines) != want {
		t.Fatalf("%d lines, want %d", len(lines), want)
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d is not valid JSON (interleaved write?): %.120q", i+1, l)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, skipped, err := events.Read(f)
	if err != nil || skipped != 0 {
		t.Fatalf("Read: %d skipped, err %v", skipped, err)
	}
	seen := map[string]int{}
	for _, e := range evs {
		seq, _ := e.Figures["seq"].(float64)
		if e.Message != strings.Repeat(e.Target, 1+(int(seq)*37)%3000) {
			t.Fatalf("event %s/%v has a damaged message", e.Target, seq)
		}
		seen[e.Target+"/"+strconv.Itoa(int(seq))]++
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < perProcess; i++ {
			if k := fmt.Sprintf("w%d/%d", w, i); seen[k] != 1 {
				t.Fatalf("event %s seen %d times, want once", k, seen[k])
			}
		}
	}
}

func TestOpenAppendsNeverTruncates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nested", "dir", "events.jsonl")
	// Open creates the directory.
	log, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Append(context.Background(), events.Event{Verb: "health", Event: "first"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	// A second Open, as a later step of the job would do, keeps the lines.
	log2, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	if log2.Path() != path {
		t.Errorf("Path() = %q", log2.Path())
	}
	if err := log2.Append(context.Background(), events.Event{Verb: "health", Event: "second"}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, before) || len(after) <= len(before) {
		t.Fatalf("file was not appended to:\nbefore %q\nafter  %q", before, after)
	}
	// A file that does not end in a newline (a killed writer) loses nothing
	// either; the partial line is skipped on read.
	if err := os.WriteFile(path, append(after, `{"verb":"x","event":"trunc`...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := events.Open(path, jobenv.Job{}); err != nil {
		t.Fatal(err)
	}
	evs, _, err := events.ReadFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Event)
	}
	if strings.Join(names, ",") != "first,second" {
		t.Errorf("events %v, want first,second", names)
	}
}

func TestEmptyPathDiscards(t *testing.T) {
	log, err := events.Open("", jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Append(context.Background(), events.Event{Event: "x"}); err != nil {
		t.Fatal(err)
	}
	var nilLog *events.Log
	if err := nilLog.Append(context.Background(), events.Event{Event: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFailsOnUnwritablePath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A path below a regular file cannot be created, even by root.
	if _, err := events.Open(filepath.Join(file, "events.jsonl"), jobenv.Job{}); err == nil {
		t.Fatal("want an error for a path below a file")
	}
}

func TestAppendFillsJobContextAndRedacts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	job := jobenv.FromEnv(config.MapEnv(map[string]string{
		"CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "api",
		"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/7",
		"CIRCLE_BRANCH":    "main", "CIRCLE_SHA1": "abc123", "CIRCLE_JOB": "deploy",
		"CIRCLE_WORKFLOW_ID": "wf-1", "CIRCLE_PIPELINE_ID": "pl-1", "CIRCLE_PIPELINE_NUMBER": "42",
	}))
	log, err := events.Open(path, job)
	if err != nil {
		t.Fatal(err)
	}
	log.Redact = func(s string) string { return strings.ReplaceAll(s, "tok-secret", "[REDACTED]") }
	at := time.Date(2030, 5, 6, 7, 8, 9, 10, time.FixedZone("X", 3600))
	err = log.Append(context.Background(), events.Event{Time: at, Verb: "health", Event: "endpoint_failed",
		Target: "https://x/?t=tok-secret", Message: "saw tok-secret", Figures: map[string]any{"attempts": 3}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "tok-secret") {
		t.Errorf("secret in the log: %s", raw)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"time": "2030-05-06T06:08:09.00000001Z", "verb": "health", "event": "endpoint_failed",
		"pipeline_id": "pl-1", "job_url": "https://circleci.com/gh/acme/api/7", "project": "gh/acme/api",
		"branch": "main", "commit": "abc123", "job": "deploy", "workflow_id": "wf-1", "pipeline_number": "42",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("field %s = %v, want %v", k, m[k], v)
		}
	}
	if f, _ := m["figures"].(map[string]any); f["attempts"] != 3.0 {
		t.Errorf("figures = %v", m["figures"])
	}
	// An event's own pipeline id is kept.
	if err := log.Append(context.Background(), events.Event{Verb: "v", Event: "e", PipelineID: "own"}); err != nil {
		t.Fatal(err)
	}
	evs, _, _ := events.ReadFiles(path)
	if got := events.Filter(evs, "e"); len(got) != 1 || got[0].PipelineID != "own" {
		t.Errorf("pipeline id overwritten: %+v", got)
	}
}

func TestReadSkipsBadLines(t *testing.T) {
	good := func(name string) string {
		return fmt.Sprintf(`{"time":"2030-01-01T00:00:00Z","verb":"health","event":%q}`, name)
	}
	long := `{"verb":"x","event":"too-long","message":"` + strings.Repeat("a", 1<<20+10) + `"}`
	tests := []struct {
		name        string
		input       string
		want        string
		wantSkipped int
	}{
		{"only good", good("a") + "\n" + good("b") + "\n", "a,b", 0},
		{"no final newline", good("a") + "\n" + good("b"), "a,b", 0},
		{"blank lines", "\n\n" + good("a") + "\n   \n" + good("b") + "\n\n", "a,b", 0},
		{"garbage", good("a") + "\nnot json at all\n" + good("b") + "\n", "a,b", 1},
		{"truncated last line", good("a") + "\n" + `{"time":"2030-01-01T00:00:00Z","verb":"heal`, "a", 1},
		{"truncated middle line", good("a") + "\n" + `{"verb":"x","ev` + "\n" + good("b"), "a,b", 1},
		{"json without an event name", good("a") + "\n{\"verb\":\"x\"}\n[1,2]\n", "a", 2},
		{"a line over 1 MiB", good("a") + "\n" + long + "\n" + good("b") + "\n", "a,b", 1},
		{"CRLF line ends", good("a") + "\r\n" + good("b") + "\r\n", "a,b", 0},
		{"empty", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, skipped, err := events.Read(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range evs {
				names = append(names, e.Event)
			}
			if got := strings.Join(names, ","); got != tt.want || skipped != tt.wantSkipped {
				t.Errorf("events %q skipped %d; want %q skipped %d", got, skipped, tt.want, tt.wantSkipped)
			}
		})
	}
}

func TestReadFilesMergesAndSorts(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(path string, secs ...int) {
		t.Helper()
		log, err := events.Open(path, jobenv.Job{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secs {
			if err := log.Append(context.Background(), events.Event{Time: t0.Add(time.Duration(s) * time.Second), Verb: "v", Event: fmt.Sprintf("e%d", s)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	write(a, 5, 1, 9)
	write(b, 2, 8)
	artifacts := filepath.Join(dir, "artifacts")
	write(filepath.Join(artifacts, "job1.jsonl"), 3, 7)
	write(filepath.Join(artifacts, "job2.jsonl"), 4)
	// A copy of one file (the same artifact downloaded twice) adds nothing.
	data, _ := os.ReadFile(b)
	if err := os.WriteFile(filepath.Join(artifacts, "copy-of-b.jsonl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Files in the directory that are not *.jsonl are ignored.
	if err := os.WriteFile(filepath.Join(artifacts, "notes.txt"), []byte(`{"event":"not-me"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.jsonl")

	evs, _, err := events.ReadFiles(a, b, artifacts, missing)
	if err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("err = %v, want one naming the missing file", err)
	}
	var names []string
	for _, e := range evs {
		names = append(names, e.Event)
	}
	if got, want := strings.Join(names, ","), "e1,e2,e3,e4,e5,e7,e8,e9"; got != want {
		t.Errorf("merged %s, want %s", got, want)
	}
}

func TestMergeIsStableForEqualTimes(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []events.Event{
		{Time: t0.Add(time.Second), Event: "later"},
		{Time: t0, Event: "first"},
		{Time: t0, Event: "second"},
		{Time: t0, Event: "first"}, // exact duplicate
	}
	var names []string
	for _, e := range events.Merge(evs) {
		names = append(names, e.Event)
	}
	if got := strings.Join(names, ","); got != "first,second,later" {
		t.Errorf("Merge = %s", got)
	}
}

func TestFilter(t *testing.T) {
	evs := []events.Event{{Event: "health_started"}, {Event: "endpoint_failed"}, {Event: "health_failed"}, {Event: "canary_passed"}}
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"health_failed"}, "health_failed"},
		{[]string{"health_*"}, "health_started,health_failed"},
		{[]string{"endpoint_failed", "canary_*"}, "endpoint_failed,canary_passed"},
		{[]string{"nothing"}, ""},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range events.Filter(evs, tt.names...) {
			got = append(got, e.Event)
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("Filter(%v) = %v, want %s", tt.names, got, tt.want)
		}
	}
}

// Rates come as fractions, percentages with a sign, or (from other tools)
// percentages without one; anything not a number is absent.
func TestFiguresFraction(t *testing.T) {
	f := events.Figures{"frac": 0.25, "pct": "25%", "bare": 25.0, "bare_text": "25", "zero": 0.0, "one": 1.0, "word": "high", "nan": math.NaN()}
	cases := []struct {
		key  string
		want float64
		ok   bool
	}{
		{"frac", 0.25, true}, {"pct", 0.25, true}, {"bare", 0.25, true}, {"bare_text", 0.25, true},
		{"zero", 0, true}, {"one", 1, true}, {"word", 0, false}, {"nan", 0, false}, {"absent", 0, false},
	}
	for _, c := range cases {
		got, ok := f.Fraction(c.key)
		if ok != c.ok || ok && math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Fraction(%q) = %v, %v; want %v, %v", c.key, got, ok, c.want, c.ok)
		}
	}
}

// canary_weight_set always carries step and weight, 0 and 0 for the
// rollback included; a log of an earlier release, whose rollback line left
// both out, reads the same.
func TestCanaryWeightFigures(t *testing.T) {
	var e events.Event
	e.SetFigures(events.CanaryWeight{})
	if _, ok := e.Figures["step"]; !ok {
		t.Errorf("the rollback's figures %v lack step", e.Figures)
	}
	if _, ok := e.Figures["weight"]; !ok {
		t.Errorf("the rollback's figures %v lack weight", e.Figures)
	}
	old := `{"time":"2030-01-01T00:00:00Z","verb":"canary","event":"canary_weight_set","figures":{"step":2,"weight":50,"samples":0,"errors":0,"error_rate":0,"elapsed_s":0}}
{"time":"2030-01-01T00:00:01Z","verb":"canary","event":"canary_weight_set","figures":{"samples":0,"errors":0,"error_rate":0,"elapsed_s":0}}
`
	evs, _, err := events.Read(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		var f events.CanaryWeight
		e.Decode(&f)
		got = append(got, fmt.Sprintf("%d:%g", f.Step, f.Weight))
	}
	if strings.Join(got, " ") != "2:50 0:0" {
		t.Errorf("old log read as %q, want 2:50 0:0", got)
	}
}

// holdLock takes path's flock through a descriptor of its own, as another
// process would, until the returned func releases it.
func holdLock(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { f.Close() }) }
	t.Cleanup(release)
	return release
}

func TestAppendStopsWaitingForALockAtTheDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	log, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	holdLock(t, path)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = log.Append(ctx, events.Event{Verb: "health", Event: "health_started"})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("Append under a held lock past the deadline: %v; want an error naming %s and the deadline", err, path)
	}

	// A stopped run (SIGTERM) ends the wait too.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if err := log.Append(ctx, events.Event{Verb: "health", Event: "health_started"}); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("Append under a held lock after the run was stopped: %v", err)
	}

	// Without a deadline, the wait is still bounded.
	log.LockWait = 20 * time.Millisecond
	if err := log.Append(context.Background(), events.Event{Verb: "health", Event: "health_started"}); err == nil || !strings.Contains(err.Error(), "waited") {
		t.Fatalf("Append under a held lock with no deadline: %v", err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("lines written under another's lock: %q", b)
	}
}

func TestAppendWritesOnceTheLockIsFree(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	log, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	release := holdLock(t, path)
	done := make(chan error, 1)
	go func() {
		done <- log.Append(context.Background(), events.Event{Verb: "health", Event: "health_started"})
	}()
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A run past its deadline still writes when nobody holds the lock.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := log.Append(ctx, events.Event{Verb: "health", Event: "health_failed"}); err != nil {
		t.Fatalf("Append after the deadline with the lock free: %v", err)
	}
	evs, _, _ := events.ReadFiles(path)
	if len(evs) != 2 {
		t.Fatalf("events %+v, want 2", evs)
	}
}

func TestOpenAndAppendNeverBlockOnAFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := events.Open(fifo, jobenv.Job{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open(FIFO) = %v, want not a regular file", err)
	}
	// With a reader, the FIFO opens; it is still refused.
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := events.Open(fifo, jobenv.Job{}); err == nil || !strings.Contains(err.Error(), "a FIFO") {
		t.Fatalf("Open(FIFO with a reader) = %v, want a FIFO refused", err)
	}

	// A path that becomes a FIFO after Open is refused on Append.
	path := filepath.Join(dir, "events.jsonl")
	log, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := log.Append(context.Background(), events.Event{Verb: "v", Event: "e"}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Append to a FIFO = %v, want an error naming it", err)
	}
}

// TestAppendKeepsEveryLineReadable: an event with a 3 MiB message, a huge
// figure, or figures that add up to more than a line may hold, is written
// as a line that readers read back: strings are cut, saying so, and
// figures too large for any line are replaced by a note.
func TestAppendKeepsEveryLineReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	log, err := events.Open(path, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("é", 3<<20) // two bytes each: cuts fall between them
	many := make([]string, 20000)
	for i := range many {
		many[i] = strings.Repeat("u", 1000)
	}
	for _, e := range []events.Event{
		{Verb: "rollback", Event: "rollback_failed", Message: huge},
		{Verb: "health", Event: "health_failed", Target: huge, Figures: events.Figures{"reason": huge, "attempts": 3}},
		{Verb: "health", Event: "health_failed", Message: "many", Figures: events.Figures{"failing_endpoints": many}},
	} {
		if err := log.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if len(line) >= 1<<20 {
			t.Errorf("line %d is %d bytes, over the 1 MiB readers take", i, len(line))
		}
	}
	evs, skipped, err := events.ReadFiles(path)
	if err != nil || skipped != nil || len(evs) != 3 {
		t.Fatalf("%d events read back, skipped %v, %v", len(evs), skipped, err)
	}
	if m := evs[0].Message; len(m) > events.MaxField+64 || !strings.Contains(m, "more bytes]") || !utf8.ValidString(m) {
		t.Errorf("message of %d bytes: %q...", len(m), m[:min(len(m), 80)])
	}
	if r := evs[1].Figures.String("reason"); len(r) > events.MaxField+64 || !strings.Contains(r, "more bytes]") || fmt.Sprint(evs[1].Figures["attempts"]) != "3" {
		t.Errorf("figures %v", evs[1].Figures)
	}
	if evs[2].Figures.String("figures_dropped") == "" || evs[2].Message != "many" {
		t.Errorf("figures too large for a line: %v, message %q", evs[2].Figures, evs[2].Message)
	}
}

// TestReadFilesCountsSkippedLines: lines that are not events are counted
// per file, for the reader to report.
func TestReadFilesCountsSkippedLines(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	good := `{"time":"2026-01-01T00:00:00Z","verb":"v","event":"e"}`
	os.WriteFile(a, []byte(good+"\n"+`{"event":"x","message":"`+strings.Repeat("z", 2<<20)+`"}`+"\nnot json\n"), 0o644)
	os.WriteFile(b, []byte(good+"\n"), 0o644)
	evs, skipped, err := events.ReadFiles(a, b)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if skipped[a] != 2 || skipped.Total() != 2 {
		t.Fatalf("skipped %v, want 2 lines of %s", skipped, a)
	}
	if s := skipped.String(); !strings.Contains(s, "2 line(s)") || !strings.Contains(s, "2 of "+a) || !strings.Contains(s, "1 MiB") {
		t.Errorf("warning %q", s)
	}
	if _, skipped, _ := events.ReadFiles(b); skipped != nil || skipped.String() != "" {
		t.Errorf("a clean log reports %v", skipped)
	}
}
