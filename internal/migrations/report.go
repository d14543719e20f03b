package migrations

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/report"
)

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// writeText prints the human report.
func writeText(w io.Writer, rep *Result, notes []string) {
	base := fmt.Sprintf("base %s = %s", rep.Base, short(rep.BaseCommit))
	if rep.Deployed != nil {
		base += " (from the " + rep.Deployed.String() + ")"
	}
	fmt.Fprintf(w, "pmguard migrations: %s, head %s = %s\n", base, rep.Head, short(rep.HeadCommit))
	if rep.MergeBase != rep.BaseCommit {
		fmt.Fprintf(w, "migrations compared from the merge base %s\n", short(rep.MergeBase))
	}
	if len(rep.Files) == 0 {
		fmt.Fprintf(w, "no migration file was added or changed\n")
	} else {
		fmt.Fprintf(w, "%d migration file(s) added or changed, in the order they run (parser: %s):\n", len(rep.Files), rep.Parser)
		for _, f := range rep.Files {
			what := fmt.Sprintf("%d statement(s)", f.Statements)
			if f.Skipped != "" {
				what = "skipped: " + f.Skipped
			}
			version := f.Version
			if version == "" {
				version = "-"
			}
			fmt.Fprintf(w, "  %-7s %s  [%s, version %s, %s]\n", f.Status, f.Path, f.Format, version, what)
		}
	}
	if len(rep.Files) > 0 {
		fmt.Fprintf(w, "deployed schema: %d migration file(s) at %s replayed before the rules ran\n", rep.SchemaFiles, short(rep.BaseCommit))
		for _, u := range rep.SchemaUnread {
			fmt.Fprintf(w, "  not replayed (the schema may miss what it did): %s\n", u)
		}
	}
	for _, fd := range ordered(rep.Findings) {
		fmt.Fprintln(w)
		writeFinding(w, fd, rep.BaseCommit)
	}
	for _, n := range notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	if db := rep.Database; db != nil {
		fmt.Fprintf(w, "\nreal database (%s, dropped): deployed schema from %d file(s), %d new statement(s) applied, %d compat quer(ies), %d failing after the migrations\n",
			db.Database, db.BaseFiles, db.Applied, db.Queries, db.NewFailures)
	}
	if searched(rep.Findings) {
		fmt.Fprintf(w, "\nthe deployed-code check read %d file(s) at %s; it cannot see %s\n", rep.CodeFiles, short(rep.BaseCommit), rep.Unseen)
	}
	verdict := "OK"
	if rep.Verdict == "blocked" {
		verdict = "BLOCKED"
	}
	fmt.Fprintf(w, "\nverdict: %s: %d blocking, %d warning(s), %d allowed by override\n", verdict, rep.Blocking, rep.Warnings, rep.Allowed)
}

func searched(fs []Finding) bool {
	for _, f := range fs {
		if f.Searched {
			return true
		}
	}
	return false
}

// ordered puts blocking findings first, then warnings, then allowed ones,
// each in file and line order.
func ordered(fs []Finding) []Finding {
	out := append([]Finding(nil), fs...)
	rank := func(f Finding) int {
		switch {
		case f.Blocks:
			return 0
		case f.Allowed == "":
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

func label(fd Finding) string {
	switch {
	case fd.Blocks:
		return "BLOCKED"
	case fd.Allowed != "":
		return "ALLOWED"
	}
	return "WARNING"
}

func writeFinding(w io.Writer, fd Finding, baseCommit string) {
	fmt.Fprintf(w, "%s  %s  %s\n", label(fd), fd.Rule, fd.Where())
	if fd.Statement != "" {
		fmt.Fprintf(w, "  %s\n", fd.Statement)
	}
	fmt.Fprintf(w, "  why: %s\n", fd.Reason)
	if fd.Detail != "" {
		fmt.Fprintf(w, "  detail: %s\n", fd.Detail)
	}
	if fd.Lock != "" {
		fmt.Fprintf(w, "  lock: %s\n", fd.Lock)
	}
	if fd.PostgresError != "" {
		fmt.Fprintf(w, "  PostgreSQL: %s\n", fd.PostgresError)
	}
	if fd.Allowed != "" {
		by := fd.SuppressedBy
		if i := strings.Index(by, " at line"); i >= 0 {
			by = by[:i]
		}
		fmt.Fprintf(w, "  allowed by %s: %s\n", by, fd.Allowed)
	}
	if fd.Searched {
		name := fd.Table
		if fd.Column != "" {
			name += "." + fd.Column
		}
		for _, h := range fd.Ignored {
			if h.Kind == kindORMMapped {
				fmt.Fprintf(w, "  deployed code at %s: %s, not a use of %s:\n    %s:%d: %s\n", short(baseCommit), h.Declaration, name, h.File, h.Line, h.Text)
				continue
			}
			fmt.Fprintf(w, "  deployed code at %s declares %s ignored, not a use (%s):\n    %s:%d: %s\n", short(baseCommit), name, h.Declaration, h.File, h.Line, h.Text)
		}
		uses := "uses " + name
		if fd.key != nil {
			name = "INSERT ... ON CONFLICT on " + fd.Table
			if len(fd.key.cols) > 0 {
				name += " (" + strings.Join(fd.key.cols, ", ") + ")"
			}
			uses = "runs " + name
		}
		if len(fd.Hits) == 0 {
			fmt.Fprintf(w, "  deployed code at %s: no use of %s found\n", short(baseCommit), name)
		} else {
			fmt.Fprintf(w, "  deployed code at %s that %s:\n", short(baseCommit), uses)
			for _, h := range fd.Hits {
				fmt.Fprintf(w, "    %s:%d: %s\n", h.File, h.Line, h.Text)
				if h.Note != "" {
					fmt.Fprintf(w, "      (%s)\n", h.Note)
				}
			}
			if fd.MoreHits > 0 {
				fmt.Fprintf(w, "    ... and %d more (see the JSON report)\n", fd.MoreHits)
			}
		}
	}
	if len(fd.Steps) > 0 && (fd.Blocks || fd.Severity == Blocking) {
		fmt.Fprintf(w, "  safe sequence (expand -> deploy -> migrate data -> deploy -> contract):\n")
		for i, s := range fd.Steps {
			fmt.Fprintf(w, "    %d. %s\n", i+1, s)
		}
	} else {
		fmt.Fprintf(w, "  safe: %s\n", fd.Safe)
	}
}

func blockSummary(rep *Result) string {
	var parts []string
	for _, fd := range rep.Findings {
		if !fd.Blocks {
			continue
		}
		s := fd.Rule + " at " + fd.Where()
		if len(fd.Hits) > 0 {
			s += fmt.Sprintf(" (used by deployed code at %s:%d)", fd.Hits[0].File, fd.Hits[0].Line)
		}
		parts = append(parts, s)
		if len(parts) == 3 {
			break
		}
	}
	more := ""
	if rep.Blocking > len(parts) {
		more = fmt.Sprintf(" and %d more", rep.Blocking-len(parts))
	}
	return fmt.Sprintf("%d blocking finding(s): %s%s", rep.Blocking, strings.Join(parts, "; "), more)
}

// writeReports writes the JSON and JUnit reports and the event.
func (o *Options) writeReports(ctx context.Context, rep *Result) error {
	if err := report.WriteJSON(o.JSONPath, rep); err != nil {
		return err
	}
	if err := report.WriteJUnit(o.JUnitPath, junitSuite(rep)); err != nil {
		return err
	}
	f := events.Migrations{Files: len(rep.Files), Blocking: rep.Blocking, Warnings: rep.Warnings, Allowed: rep.Allowed,
		BaseCommit: rep.BaseCommit, HeadCommit: rep.HeadCommit}
	e := events.Event{Verb: "migrations", Event: events.MigrationOK, Target: strings.Join(o.Migrations, ","),
		Message: fmt.Sprintf("%d migration file(s) safe to run before the deploy (%d warning(s))", len(rep.Files), rep.Warnings)}
	if rep.Blocking > 0 {
		e.Event, e.Message = events.MigrationBlocked, blockSummary(rep)
		for _, fd := range rep.Findings {
			if fd.Blocks && !contains(f.Rules, fd.Rule) {
				f.Rules = append(f.Rules, fd.Rule)
			}
		}
	}
	e.SetFigures(f)
	if err := o.Events.Append(ctx, e); err != nil {
		return err
	}
	return nil
}

// junitSuite makes one test case per migration file (and one per compat
// queries file): blocking findings fail it, the rest go to its output.
func junitSuite(rep *Result) report.Suite {
	s := report.Suite{Name: "pmguard migrations", Duration: time.Duration(rep.Seconds * float64(time.Second))}
	byFile := map[string][]Finding{}
	var order []string
	for _, f := range rep.Files {
		order = append(order, f.Path)
	}
	for _, fd := range rep.Findings {
		if _, ok := byFile[fd.File]; !ok && !contains(order, fd.File) {
			order = append(order, fd.File)
		}
		byFile[fd.File] = append(byFile[fd.File], fd)
	}
	for _, path := range order {
		c := report.Case{Name: path, ClassName: "migrations"}
		var fail, out strings.Builder
		for _, fd := range byFile[path] {
			b := &out
			if fd.Blocks {
				b = &fail
			}
			writeFinding(b, fd, rep.BaseCommit)
		}
		c.Failure, c.Output = fail.String(), out.String()
		for _, f := range rep.Files {
			if f.Path == path && f.Skipped != "" && c.Failure == "" {
				c.Skipped = f.Skipped
			}
		}
		s.Cases = append(s.Cases, c)
	}
	if len(s.Cases) == 0 {
		s.Cases = append(s.Cases, report.Case{Name: "no migration changed", ClassName: "migrations"})
	}
	return s
}
