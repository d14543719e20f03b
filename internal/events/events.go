// Package events is pmguard's event log: JSON Lines appended to
// $PMGUARD_EVENTS_FILE, one object per event, read back by postmortem, dora
// and notify from any job's artifacts.
//
// Lines are only ever appended. Each event is written with one write(2) on a
// file opened with O_APPEND while holding an exclusive flock, so concurrent
// pmguard processes (parallel steps, matrix jobs sharing a workspace) never
// interleave or lose a line. Nothing here blocks past the run's context:
// the file is opened without blocking (a FIFO or a device is refused, not
// waited on) and a lock another process holds is waited for only until the
// context ends, a second at most (50 ms once a wait ran out).
package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pmguard/pmguard/internal/appendfile"
	"github.com/pmguard/pmguard/internal/clock"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// Event is one line of the log. Field names are a contract: never rename one.
type Event struct {
	Time       time.Time `json:"time"`
	Verb       string    `json:"verb"`
	Event      string    `json:"event"`
	Target     string    `json:"target,omitempty"`
	PipelineID string    `json:"pipeline_id,omitempty"`
	JobURL     string    `json:"job_url,omitempty"`
	Figures    Figures   `json:"figures,omitempty"`
	Message    string    `json:"message,omitempty"`

	// CircleCI context, filled from the job environment.
	Project        string `json:"project,omitempty"`
	Branch         string `json:"branch,omitempty"`
	Commit         string `json:"commit,omitempty"`
	Job            string `json:"job,omitempty"`
	WorkflowID     string `json:"workflow_id,omitempty"`
	PipelineNumber string `json:"pipeline_number,omitempty"`
}

// Log appends events to one file. A Log with an empty path discards events.
type Log struct {
	path string
	job  jobenv.Job
	now  func() time.Time
	// Redact is applied to every string of every event (message, target,
	// figures) as a last guard against a secret reaching the log; nil leaves
	// them as they are.
	Redact func(string) string
	// LockWait bounds the wait for a lock another process holds when the
	// context passed to Append ends later (or never); 0 is MaxLockWait.
	LockWait time.Duration
	// held is set once a wait for the lock ran out: a process that holds
	// it that long is not a pmguard writer, and later events wait heldWait
	// instead of spending the run's time on it again.
	held atomic.Bool
}

// MaxLockWait is the longest Append waits for another writer's lock. A
// pmguard writer holds it for one write(2): a lock held longer is held by
// something else, and the run (a health check's deadline, a canary's
// max_duration) must not be spent on it.
const MaxLockWait = time.Second

// heldWait is the wait for a lock that was held past a wait before.
const heldWait = 50 * time.Millisecond

// Open returns a Log appending to path, stamping events with job's context.
// It creates the file's directory; it does not truncate an existing file.
// A path that is not a regular file (a FIFO, a device) is an error.
func Open(path string, job jobenv.Job) (*Log, error) {
	l := &Log{path: path, job: job, now: time.Now}
	if path == "" {
		return l, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("event log %s: %w", path, err)
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	return l, f.Close()
}

// openFile opens path to append without ever blocking; anything but a
// regular file is refused.
func openFile(path string) (*os.File, error) {
	f, err := appendfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("event log %s: %w", path, err)
	}
	return f, nil
}

// Path is the file the log appends to ("" when discarding).
func (l *Log) Path() string { return l.path }

// Append fills in the time and job context and appends e as one line. When
// another process holds the file's lock, Append waits for it until ctx ends
// (or LockWait has passed), then returns an error naming the file.
func (l *Log) Append(ctx context.Context, e Event) error {
	if l == nil || l.path == "" {
		return nil
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	fill(&e.PipelineID, l.job.PipelineID)
	fill(&e.JobURL, l.job.BuildURL)
	fill(&e.Project, l.job.ProjectSlug())
	fill(&e.Branch, l.job.Branch)
	fill(&e.Commit, l.job.SHA)
	fill(&e.Job, l.job.JobName)
	fill(&e.WorkflowID, l.job.WorkflowID)
	fill(&e.PipelineNumber, l.job.PipelineNumber)
	if l.Redact != nil {
		e = e.Redacted(l.Redact)
	}
	line, err := encode(e)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	return l.appendLine(ctx, append(line, '\n'))
}

// MaxField bounds each string of an event (message, target, a figure) as
// written: a server's 3 MiB error message is cut, not written whole.
const MaxField = 16 << 10

// encode writes e as one line that readers can read back (shorter than
// maxLine): its strings cut at MaxField, then, if the line is still too
// long (a figure holding thousands of strings), at 256 bytes, and at last
// without its figures, which a figure says.
func encode(e Event) ([]byte, error) {
	for _, limit := range []int{MaxField, 256} {
		b := e
		b.Message, b.Target = cut(e.Message, limit), cut(e.Target, limit)
		b.Figures = mapStrings(e.Figures, func(s string) string { return cut(s, limit) })
		line, err := json.Marshal(b)
		if err != nil || len(line) < maxLine {
			return line, err
		}
	}
	n := 0
	if f, err := json.Marshal(e.Figures); err == nil {
		n = len(f)
	}
	e.Message, e.Target = cut(e.Message, 256), cut(e.Target, 256)
	e.Figures = Figures{"figures_dropped": fmt.Sprintf("%d bytes of figures, over the event log's %d MiB line limit", n, maxLine>>20)}
	return json.Marshal(e)
}

// cut shortens s to at most limit bytes (on a character boundary), saying
// how much was cut.
func cut(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s… [%d more bytes]", s[:i], len(s)-i)
}

func fill(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func (l *Log) appendLine(ctx context.Context, line []byte) error {
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := l.lock(ctx, f); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing releases it too
	if _, err := f.Write(line); err != nil {
		return fmt.Errorf("event log %s: %w", l.path, err)
	}
	return nil
}

// lock takes f's exclusive flock without blocking, trying again after a
// short and growing pause while another process holds it, until ctx ends
// or LockWait has passed. It always tries once, so an event written after
// the run's deadline still lands when the file is free.
func (l *Log) lock(ctx context.Context, f *os.File) error {
	wait := l.LockWait
	if wait <= 0 {
		wait = MaxLockWait
	}
	if l.held.Load() {
		// Held too long before: wait only as long as a pmguard writer's
		// one write could take.
		wait = min(wait, heldWait)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, wait, fmt.Errorf("it waited %s for it", wait))
	defer cancel()
	pause := 5 * time.Millisecond
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l.held.Store(false)
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("event log %s: lock: %w", l.path, err)
		}
		if clock.Sleep(ctx, pause) != nil {
			l.held.Store(true)
			return fmt.Errorf("event log %s: another process holds its lock, and the event was not written: %v", l.path, lockCause(ctx))
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// lockCause says why the wait for the lock ended.
func lockCause(ctx context.Context) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, context.DeadlineExceeded):
		return errors.New("the run's deadline passed while waiting for it")
	case errors.Is(cause, context.Canceled):
		return errors.New("the run was stopped while waiting for it")
	default:
		return cause
	}
}

// maxLine bounds one line read back; longer lines are skipped, not fatal.
const maxLine = 1 << 20

// Read parses every event in r. Lines that are not events (blank, truncated
// by a killed writer, too long) are skipped and counted, never fatal: one bad
// line must not hide an incident's timeline.
func Read(r io.Reader) ([]Event, int, error) {
	var out []Event
	skipped := 0
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := readLine(br)
		if len(bytes.TrimSpace(line)) > 0 {
			var e Event
			if json.Unmarshal(line, &e) == nil && e.Event != "" {
				out = append(out, e)
			} else {
				skipped++
			}
		}
		if errors.Is(err, io.EOF) {
			return out, skipped, nil
		}
		if errors.Is(err, errLineTooLong) {
			skipped++
			continue
		}
		if err != nil {
			return out, skipped, err
		}
	}
}

var errLineTooLong = errors.New("line too long")

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(buf)+len(chunk) > maxLine {
			for isPrefix && err == nil { // discard the rest of the line
				_, isPrefix, err = br.ReadLine()
			}
			if err != nil {
				return nil, err
			}
			return nil, errLineTooLong
		}
		buf = append(buf, chunk...)
		if err != nil || !isPrefix {
			return buf, err
		}
	}
}

// Skipped counts, per file, the lines that were not events (longer than
// the 1 MiB a line may have, not JSON, cut short by a killed writer).
type Skipped map[string]int

// Total is the number of lines skipped.
func (s Skipped) Total() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

// String says which lines were skipped, for a warning ("" when none).
func (s Skipped) String() string {
	if len(s) == 0 {
		return ""
	}
	files := slices.Sorted(maps.Keys(s))
	parts := make([]string, len(files))
	for i, f := range files {
		parts[i] = fmt.Sprintf("%d of %s", s[f], f)
	}
	return fmt.Sprintf("%d line(s) of the event logs were not events and were skipped (%s): longer than %d MiB, not JSON, or cut short",
		s.Total(), strings.Join(parts, ", "), maxLine>>20)
}

// ReadFiles reads and merges the events of several files (and of every
// *.jsonl file in a directory), sorted by time; files that do not exist are
// reported in the error but the events found are still returned. skipped
// counts the lines that were not events, for the caller to report.
func ReadFiles(paths ...string) (evs []Event, skipped Skipped, err error) {
	var all []Event
	var errs []error
	for _, p := range expand(paths) {
		f, err := os.Open(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs, n, err := Read(f)
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		if n > 0 {
			if skipped == nil {
				skipped = Skipped{}
			}
			skipped[p] += n
		}
		all = append(all, evs...)
	}
	return Merge(all), skipped, errors.Join(errs...)
}

func expand(paths []string) []string {
	var out []string
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			m, _ := filepath.Glob(filepath.Join(p, "*.jsonl"))
			sort.Strings(m)
			out = append(out, m...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// Merge sorts events by time and drops exact duplicates (the same event read
// from two copies of one artifact).
func Merge(evs []Event) []Event {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	out := evs[:0]
	seen := map[string]bool{}
	for _, e := range evs {
		b, _ := json.Marshal(e)
		if seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		out = append(out, e)
	}
	return out
}

// Filter returns the events whose name is one of names.
func Filter(evs []Event, names ...string) []Event {
	var out []Event
	for _, e := range evs {
		for _, n := range names {
			if e.Event == n || strings.HasSuffix(n, "*") && strings.HasPrefix(e.Event, strings.TrimSuffix(n, "*")) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Redacted is e with redact applied to its message, target and every
// string among its figures (a copy: e's figures are left as they are). A
// reader of an event log it did not write (one attached from another job,
// an older release's) uses it before it shows an event.
func (e Event) Redacted(redact func(string) string) Event {
	e.Message = redact(e.Message)
	e.Target = redact(e.Target)
	e.Figures = mapStrings(e.Figures, redact)
	return e
}
