package migrations

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// RollbackCheck asks whether the code at Target can serve the schema that
// the migrations up to Failed left behind: rolling the code back does not
// roll the schema back. It reads the same layouts with the same parser and
// the same code search as the migrations check.
type RollbackCheck struct {
	Git        Git
	Migrations []string // globs of migration files
	// Code and CodeExclude bound the search of the target's code (default:
	// everything but DefaultCodeExclude).
	Code, CodeExclude []string
	Target, Failed    string // git revisions: the version rolled back to, the failed one
	PostgresVersion   int    // default 13
	// CacheDir keeps the WebAssembly parser's compiled code (see CacheDir).
	CacheDir string
}

// RollbackFinding is one thing the target's code relies on that a
// migration of the failed deploy took away.
type RollbackFinding struct {
	Rule      string `json:"rule"`
	Table     string `json:"table"`
	Column    string `json:"column,omitempty"`
	NewName   string `json:"new_name,omitempty"`
	File      string `json:"file"` // the migration
	Line      int    `json:"line"`
	Statement string `json:"statement"`
	// Hits are the target code's uses (for NOT NULL: of the table).
	Hits []Hit `json:"hits,omitempty"`
	// Down names what undoes the migration, when its layout has one.
	Down string `json:"down,omitempty"`
	// Message says it in one line: "it uses users.email, dropped by
	// db/migrations/0042_drop_email.up.sql".
	Message string `json:"message"`
}

// RollbackCheckResult is what CheckRollback found.
type RollbackCheckResult struct {
	TargetCommit string            `json:"target_commit"`
	FailedCommit string            `json:"failed_commit"`
	Files        []string          `json:"files"` // migrations the failed revision has and the target lacks
	Findings     []RollbackFinding `json:"findings"`
	CodeFiles    int               `json:"code_files_read"`
	// Notes name what the check could not read.
	Notes []string `json:"notes,omitempty"`
}

// rollbackRules are the findings that can break the old code, and the
// name searched for in its code.
var rollbackRules = map[string]string{
	RuleDropColumn: "dropped", RuleRenameColumn: "renamed", RuleDropTable: "dropped", RuleRenameTable: "renamed",
	RuleChangeColumnType: "retyped", RuleAddNotNullColumn: "not null", RuleSetNotNull: "not null",
}

// CheckRollback compares the migrations the failed revision has and the
// target lacks with the target's code.
func CheckRollback(ctx context.Context, o RollbackCheck) (*RollbackCheckResult, error) {
	pgparse.UseCacheDir(o.CacheDir)
	go pgparse.Warm()
	r := repo{git: o.Git}
	targetSHA, err := r.resolve(ctx, o.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	failed, err := r.resolve(ctx, o.Failed)
	if err != nil {
		return nil, fmt.Errorf("failed revision: %w", err)
	}
	res := &RollbackCheckResult{TargetCommit: targetSHA, FailedCommit: failed, Findings: []RollbackFinding{}}
	changes, err := r.changes(ctx, targetSHA, failed)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, c := range changes {
		if c.Status == "added" && matchAny(o.Migrations, c.Path) {
			paths = append(paths, c.Path)
		}
	}
	if len(paths) == 0 {
		return res, nil
	}
	contents, err := r.read(ctx, failed, paths)
	if err != nil {
		return nil, err
	}
	var files, lifted []*parsedFile // SQL migrations; SQL lifted out of Rails ones
	var rails []railsMigration
	for _, p := range paths {
		res.Files = append(res.Files, p)
		if isRails(p) {
			rm := railsRead(p, contents[p])
			rails = append(rails, rm)
			// The SQL each execute call runs is read like a migration of
			// its own, on the file's lines; a piece the parser cannot read
			// (a fragment, another dialect) is a note.
			for _, q := range rm.SQL {
				m := ReadMigration(p, q.laidOut())
				stmts, errs := parseFile(p, m.Up)
				if len(errs) > 0 {
					res.Notes = append(res.Notes, fmt.Sprintf("%s:%d: the SQL this execute runs was not checked: %v", p, q.Line, errs[0]))
					continue
				}
				lifted = append(lifted, &parsedFile{Migration: &m, stmts: stmts})
			}
			continue
		}
		m := ReadMigration(p, contents[p])
		if m.Skipped == "" {
			files = append(files, &parsedFile{Migration: &m})
		}
	}
	var bad []error
	for _, f := range files {
		stmts, errs := parseFile(f.Path, f.Up)
		f.stmts, bad = stmts, append(bad, errs...)
	}
	if len(bad) > 0 {
		return nil, errors.Join(bad...)
	}
	files = append(files, lifted...) // parsed already
	sort.SliceStable(files, func(i, j int) bool { return lessMigration(*files[i].Migration, *files[j].Migration) })
	pg := o.PostgresVersion
	if pg == 0 {
		pg = 13
	}
	a := newAnalyzer(pg)
	for _, f := range files {
		a.file(f)
	}
	found := a.findings
	// railsDowns: how to run each Rails migration down, or why Rails cannot.
	type railsDown struct{ down, irreversible string }
	railsDowns := map[string]railsDown{}
	sort.SliceStable(rails, func(i, j int) bool {
		return parseVersion(rails[i].Version).compare(parseVersion(rails[j].Version)) < 0
	})
	for i, rm := range rails {
		found = append(found, rm.Findings...)
		railsDowns[rm.Path] = railsDown{rm.railsDown(len(rails) - i), rm.Irreversible}
	}
	var targets []target
	seen := map[target]bool{}
	want := func(t target) {
		if !seen[t] {
			seen[t] = true
			targets = append(targets, t)
		}
	}
	kept := found[:0:0]
	for _, fd := range found {
		if _, ok := rollbackRules[fd.Rule]; !ok {
			continue
		}
		kept = append(kept, fd)
		want(target{fd.Table, fd.Column})
		if fd.Column != "" && rollbackRules[fd.Rule] == "not null" {
			want(target{fd.Table, ""})
		}
	}
	found = kept
	if len(found) == 0 {
		return res, nil
	}
	code := o.Code
	if len(code) == 0 {
		code = []string{"."}
	}
	exclude := o.CodeExclude
	if len(exclude) == 0 {
		exclude = DefaultCodeExclude
	}
	exclude = append(append([]string{}, exclude...), o.Migrations...)
	hits, err := searchCode(ctx, r, targetSHA, targets, code, exclude)
	if err != nil {
		return nil, fmt.Errorf("searching the target's code: %w", err)
	}
	res.CodeFiles = hits.files
	tree, err := r.files(ctx, failed)
	if err != nil {
		return nil, err
	}
	for _, fd := range found {
		rf := RollbackFinding{Rule: fd.Rule, Table: fd.Table, Column: fd.Column, NewName: fd.NewName, File: fd.File, Line: fd.Line, Statement: fd.Statement}
		irreversible := ""
		if rd, ok := railsDowns[fd.File]; ok {
			rf.Down, irreversible = rd.down, rd.irreversible
		} else {
			rf.Down = downMigration(fd.File, contents[fd.File], tree)
		}
		name := fd.Table
		if fd.Column != "" {
			name += "." + fd.Column
		}
		uses := hits.hits[target{fd.Table, fd.Column}]
		switch rollbackRules[fd.Rule] {
		case "not null":
			tableUses := hits.hits[target{fd.Table, ""}]
			if len(uses) > 0 || len(tableUses) == 0 {
				continue // the old code writes the column, or never the table
			}
			rf.Hits = capHits(tableUses)
			rf.Message = fmt.Sprintf("it writes %s (%s) without %s, which %s made NOT NULL with no default: its inserts fail", fd.Table, where(tableUses), name, fd.File)
		case "retyped":
			if len(uses) == 0 {
				continue
			}
			rf.Hits = capHits(uses)
			rf.Message = fmt.Sprintf("it uses %s (%s), whose type %s changed", name, where(uses), fd.File)
		default:
			if len(uses) == 0 {
				continue
			}
			rf.Hits = capHits(uses)
			verb := rollbackRules[fd.Rule]
			if fd.NewName != "" {
				verb += " to " + fd.NewName
			}
			rf.Message = fmt.Sprintf("it uses %s (%s), %s by %s", name, where(uses), verb, fd.File)
		}
		if irreversible != "" {
			rf.Message += fmt.Sprintf("; Rails cannot run it down (%s): write a migration that restores it, or fix forward", irreversible)
		}
		res.Findings = append(res.Findings, rf)
	}
	return res, nil
}

func capHits(h []Hit) []Hit {
	if len(h) > maxHitsShown {
		return h[:maxHitsShown]
	}
	return h
}

func where(h []Hit) string {
	s := fmt.Sprintf("%s:%d", h[0].File, h[0].Line)
	if len(h) > 1 {
		s += fmt.Sprintf(" and %d more", len(h)-1)
	}
	return s
}

// downMigration names what undoes a migration in its layout: the
// golang-migrate .down.sql beside it, the Flyway undo migration (U<version>)
// of its version, or the down section of a goose or dbmate file; "" when
// there is none.
func downMigration(file, text string, tree []string) string {
	m := ReadMigration(file, text)
	dir, base := path.Split(file)
	has := func(p string) bool {
		for _, t := range tree {
			if t == p {
				return true
			}
		}
		return false
	}
	re := patterns()
	switch m.Format {
	case FormatGolangMigrate:
		down := dir + base[:len(base)-len(".up.sql")] + ".down.sql"
		if has(down) {
			return down
		}
	case FormatFlyway:
		for _, t := range tree {
			d, b := path.Split(t)
			if d == dir && strings.HasPrefix(b, "U"+m.Version+"__") && strings.HasSuffix(strings.ToLower(b), ".sql") {
				return t
			}
		}
	case FormatGoose:
		if down := sectionAfter(text, re.gooseDown); down != "" {
			return "the -- +goose Down section of " + file
		}
	case FormatDbmate:
		if down := sectionAfter(text, re.dbmateDown); down != "" {
			return "the -- migrate:down section of " + file
		}
	}
	return ""
}

// sectionAfter is the non-blank text after the line marker matches.
func sectionAfter(text string, marker interface{ FindStringIndex(string) []int }) string {
	loc := marker.FindStringIndex(text)
	if loc == nil {
		return ""
	}
	return strings.TrimSpace(text[loc[1]:])
}
