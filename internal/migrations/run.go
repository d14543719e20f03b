// Package migrations checks the database migrations of a change against the
// code that is still deployed: it finds the migration files added or changed
// between the deployed commit and HEAD, parses them with PostgreSQL's own
// parser, applies zero-downtime rules, searches the deployed code for uses
// of every dropped or renamed table and column, and (with a database URL)
// applies the migrations to a throwaway database and runs the deployed
// code's queries against it.
package migrations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/migrations/pgparse"
	"github.com/pmguard/pmguard/internal/verb"
	"github.com/pmguard/pmguard/internal/verdict"
)

// Options are the inputs and dependencies of one check.
type Options struct {
	// Git runs git in the repository (ExecGit{Dir: ...}).
	Git Git
	// Migrations are globs of migration files, relative to the repository
	// root; ** matches any number of directories.
	Migrations []string
	// Base is the deployed code: BaseDeployed, or any git revision.
	Base string
	// Head is the revision to be deployed (default HEAD).
	Head string
	// DeployedLog are event logs (files or directories) that say which
	// commit is deployed, for Base == BaseDeployed.
	DeployedLog []string
	// DeployEvents are the event names that mark a deploy.
	DeployEvents []string
	// Code are the paths or globs of the deployed code to search ("." is
	// everything); CodeExclude leaves paths out.
	Code        []string
	CodeExclude []string
	// PostgresVersion is the production server's major version.
	PostgresVersion int
	// WarnRules are reported as warnings only; IgnoreRules not at all.
	WarnRules   []string
	IgnoreRules []string
	// DatabaseURL enables the real-database mode (a secret: never printed).
	DatabaseURL string
	// DatabaseURLEnv names the env var it came from, for messages.
	DatabaseURLEnv string
	// CompatQueries is a file of the deployed code's queries, run against
	// the migrated throwaway database; CompatQueriesText is its content.
	CompatQueries     string
	CompatQueriesText string
	// Timeout caps the real-database mode.
	Timeout time.Duration
	// CacheDir keeps the WebAssembly parser's compiled code across runs
	// ("" for none).
	CacheDir string

	JSONPath, JUnitPath string
	Events              *events.Log
	Stdout, Stderr      io.Writer
	Now                 func() time.Time

	revs *revisions // resolved by New; nil: Run resolves them
}

// Result is the outcome of a check, written as the JSON report.
type Result struct {
	Verdict    string     `json:"verdict"` // "ok" or "blocked"
	Base       string     `json:"base"`
	BaseCommit string     `json:"base_commit"`
	Deployed   *Deployed  `json:"deployed,omitempty"`
	Head       string     `json:"head"`
	HeadCommit string     `json:"head_commit"`
	MergeBase  string     `json:"merge_base"`
	Parser     string     `json:"parser"`
	Files      []FileInfo `json:"files"`
	// SchemaFiles is how many migrations at base were replayed to know the
	// deployed schema; SchemaUnread names those the parser could not read.
	SchemaFiles  int       `json:"schema_from_files"`
	SchemaUnread []string  `json:"schema_unread,omitempty"`
	Findings     []Finding `json:"findings"`
	// Suppressed lists the findings a pmguard:ignore (or pmguard:allow)
	// directive accepted, with its reason; they are in Findings too.
	Suppressed []Suppression `json:"suppressed"`
	Blocking   int           `json:"blocking"`
	Warnings   int           `json:"warnings"`
	Allowed    int           `json:"allowed"`
	// CodeFiles is how many files of the deployed code were read to
	// confirm uses of dropped or renamed names.
	CodeFiles int       `json:"code_files_read"`
	Database  *dbResult `json:"database,omitempty"`
	Unseen    string    `json:"not_visible"`
	Seconds   float64   `json:"seconds"`
}

// Suppression is a finding accepted by a directive in the migration.
type Suppression struct {
	Rule      string `json:"rule"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	Statement string `json:"statement,omitempty"`
	Reason    string `json:"reason"`
	Directive string `json:"directive"`
}

// FileInfo is one migration file of the change.
type FileInfo struct {
	Path       string `json:"path"`
	Status     string `json:"status"`
	Format     string `json:"format"`
	Version    string `json:"version,omitempty"`
	Statements int    `json:"statements"`
	Skipped    string `json:"skipped,omitempty"`
}

// Unseen says what the deployed-code check cannot see.
const Unseen = "names built at run time (string concatenation, format strings, query builders), " +
	"table names an ORM derives from a class name (a Rails model named User; a Django model outside its app's directory), column names derived " +
	"in forms other than snake_case or camelCase, other services or repositories that share the database, " +
	"and views, functions and triggers inside the database"

// ParseError is a migration PostgreSQL's parser rejects (exit 2).
type ParseError struct {
	File    string
	Line    int
	Message string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: PostgreSQL cannot parse it: %s", e.File, e.Line, e.Message)
}

func parseError(file, text string, err error) error {
	var pe *pgparse.Error
	if errors.As(err, &pe) {
		line := 0
		if pe.Offset >= 0 {
			line = newLineIndex(text).line(pe.Offset)
		}
		return &ParseError{File: file, Line: line, Message: pe.Message}
	}
	return fmt.Errorf("%s: %w", file, err)
}

// dbSecrets are the parts of a database URL never to print: the URL and
// its password.
func dbSecrets(u string) []string {
	if u == "" {
		return nil
	}
	out := []string{u}
	if cfg, err := pgx.ParseConfig(u); err == nil && cfg.Password != "" {
		out = append(out, cfg.Password)
	}
	return out
}

func (o *Options) redactor() *httpx.Redactor { return httpx.NewRedactor(dbSecrets(o.DatabaseURL)...) }

func (o *Options) defaults() {
	if o.Head == "" {
		o.Head = "HEAD"
	}
	if o.Base == "" {
		o.Base = BaseDeployed
	}
	if len(o.DeployEvents) == 0 {
		o.DeployEvents = DefaultDeployEvents
	}
	if len(o.Code) == 0 {
		o.Code = []string{"."}
	}
	if o.PostgresVersion == 0 {
		o.PostgresVersion = 13
	}
	verb.FillClockAndStreams(&o.Now, &o.Stdout, &o.Stderr)
}

// Run performs the check. It returns nil when nothing blocks, a verdict.Fail
// when a finding blocks, a bad-input error for unknown revisions and
// migrations PostgreSQL cannot parse, and any other error when it could not
// run.
func Run(ctx context.Context, o *Options) error {
	o.defaults()
	started := o.Now()
	// Load the parser while git works (the WebAssembly build compiles it,
	// or loads it from the cache directory).
	pgparse.UseCacheDir(o.CacheDir)
	go pgparse.Warm()
	red := o.redactor()
	r := repo{git: o.Git}
	rev := o.revs
	if rev == nil {
		var err error
		if rev, err = o.revisions(ctx); err != nil {
			return err
		}
	}
	headSHA, baseSHA, mb := rev.head, rev.base, rev.mergeBase
	rep := &Result{Base: o.Base, Head: o.Head, Parser: pgparse.Backend, Unseen: Unseen,
		Deployed: rev.deployed, BaseCommit: baseSHA, HeadCommit: headSHA, MergeBase: mb}

	changes, err := r.changes(ctx, mb, headSHA)
	if err != nil {
		return err
	}
	status := map[string]string{}
	var paths []string
	for _, c := range changes {
		if matchAny(o.Migrations, c.Path) {
			status[c.Path] = c.Status
			paths = append(paths, c.Path)
		}
	}
	contents, err := r.read(ctx, headSHA, paths)
	if err != nil {
		return err
	}
	var files []*parsedFile
	for _, p := range paths {
		m := ReadMigration(p, contents[p])
		m.Status = status[p]
		files = append(files, &parsedFile{Migration: &m})
	}
	sort.SliceStable(files, func(i, j int) bool { return lessMigration(*files[i].Migration, *files[j].Migration) })

	var bad []error
	for _, f := range files {
		if f.Skipped != "" {
			continue
		}
		stmts, errs := parseFile(f.Path, f.Up)
		f.stmts = stmts
		bad = append(bad, errs...)
	}
	if len(bad) > 0 {
		return config.Invalid(errors.Join(bad...))
	}
	for _, f := range files {
		rep.Files = append(rep.Files, FileInfo{Path: f.Path, Status: f.Status, Format: f.FormatLabel(), Version: f.Version, Statements: len(f.stmts), Skipped: f.Skipped})
	}

	// Migrations already deployed: edited ones, and versions that sort
	// before them.
	baseTree, err := r.files(ctx, baseSHA)
	if err != nil {
		return err
	}
	var basePaths []string
	var newest versionKey
	haveNewest := false
	for _, p := range baseTree {
		if !matchAny(o.Migrations, p) {
			continue
		}
		basePaths = append(basePaths, p)
		m := ReadMigration(p, "")
		if m.Skipped == "" && m.order.rank == 0 && (!haveNewest || m.order.compare(newest) > 0) {
			newest, haveNewest = m.order, true
		}
	}
	inBase := map[string]bool{}
	for _, p := range basePaths {
		inBase[p] = true
	}

	// The rules, over the statements in the order they will run, on the
	// schema the deployed migrations built.
	base, unreadable, err := o.deployedMigrations(ctx, r, baseSHA, basePaths)
	if err != nil {
		return err
	}
	rep.SchemaFiles, rep.SchemaUnread = len(base), unreadable
	a := newAnalyzer(o.PostgresVersion)
	a.replay(base)
	for _, f := range files {
		if f.Skipped == "" {
			a.file(f)
		}
	}
	findings := a.findings
	for _, f := range files {
		if f.Skipped != "" {
			continue
		}
		if inBase[f.Path] {
			fd := newFinding(RuleEditedMigration)
			fd.File = f.Path
			findings = append(findings, fd)
		} else if f.order.rank == 0 && haveNewest && f.order.compare(newest) < 0 {
			fd := newFinding(RuleOutOfOrder)
			fd.File = f.Path
			fd.Detail = "version " + f.Version + " is older than " + newest.text + ", already deployed"
			findings = append(findings, fd)
		}
	}

	// The deployed code: uses of every dropped or renamed name, at base.
	var targets []target
	seen := map[target]bool{}
	for _, fd := range findings {
		if r, ok := ruleByID(fd.Rule); ok && r.UsesCode && !contains(o.IgnoreRules, fd.Rule) {
			t := searchTarget(fd)
			if !seen[t] {
				seen[t] = true
				targets = append(targets, t)
			}
		}
	}
	if len(targets) > 0 {
		exclude := append(append([]string{}, o.CodeExclude...), o.Migrations...)
		res, err := searchCode(ctx, r, baseSHA, targets, o.Code, exclude)
		if err != nil {
			return fmt.Errorf("searching the deployed code: %w", err)
		}
		rep.CodeFiles = res.files
		for i := range findings {
			fd := &findings[i]
			if r, ok := ruleByID(fd.Rule); !ok || !r.UsesCode {
				continue
			}
			fd.Searched = true
			var hits []Hit
			for _, h := range res.hits[searchTarget(*fd)] {
				if fd.key != nil && !fd.key.usesKey(h.Text) {
					continue // an upsert on another key
				}
				if h.Kind == kindORMIgnored || h.Kind == kindORMMapped {
					fd.Ignored = append(fd.Ignored, h)
				} else {
					hits = append(hits, h)
				}
			}
			if len(hits) > 0 {
				if !fd.bridged {
					fd.Severity = Blocking
				}
				if len(hits) > maxHitsShown {
					fd.MoreHits = len(hits) - maxHitsShown
					hits = hits[:maxHitsShown]
				}
				fd.Hits = hits
			}
		}
	}

	// The real database.
	if o.DatabaseURL != "" {
		if len(unreadable) > 0 {
			return fmt.Errorf("deployed migration: %s", unreadable[0])
		}
		res, err := o.realDatabase(ctx, base, files, red)
		if err != nil {
			return err
		}
		rep.Database = &res
		findings = append(findings, res.Findings...)
	}

	// Settings and overrides decide what blocks.
	var kept []Finding
	for _, fd := range findings {
		if contains(o.IgnoreRules, fd.Rule) {
			continue
		}
		if contains(o.WarnRules, fd.Rule) {
			fd.Severity = Warning
		}
		kept = append(kept, fd)
	}
	applyOverrides(kept)
	for i := range kept {
		fd := &kept[i]
		fd.Blocks = fd.Severity == Blocking && fd.Allowed == ""
		switch {
		case fd.Allowed != "":
			rep.Allowed++
		case fd.Blocks:
			rep.Blocking++
		default:
			rep.Warnings++
		}
	}
	rep.Findings = kept
	for _, fd := range kept {
		if fd.Allowed != "" {
			rep.Suppressed = append(rep.Suppressed, Suppression{Rule: fd.Rule, File: fd.File, Line: fd.Line,
				Statement: fd.Statement, Reason: fd.Allowed, Directive: fd.SuppressedBy})
		}
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	if rep.Suppressed == nil {
		rep.Suppressed = []Suppression{}
	}
	rep.Verdict = "ok"
	if rep.Blocking > 0 {
		rep.Verdict = "blocked"
	}
	rep.Seconds = o.Now().Sub(started).Seconds()

	writeText(o.Stdout, rep, unusedOverrides(files))
	if err := o.writeReports(ctx, rep); err != nil {
		return err
	}
	if rep.Blocking > 0 {
		return verdict.Failf("%s", blockSummary(rep))
	}
	return nil
}

// revisions are the commits a check compares.
type revisions struct {
	head, base, mergeBase string
	deployed              *Deployed // when the base is BaseDeployed
}

// revisions resolves the head and the base (for BaseDeployed, the commit of
// the newest deploy event) and their merge base.
func (o *Options) revisions(ctx context.Context) (*revisions, error) {
	r := repo{git: o.Git}
	if err := r.isRepository(ctx); err != nil {
		return nil, badRevision("repo", err)
	}
	head, err := r.resolve(ctx, o.Head)
	if err != nil {
		return nil, badRevision("head", err)
	}
	rv := &revisions{head: head}
	baseRev := o.Base
	if o.Base == BaseDeployed {
		d, err := deployedCommit(o.DeployedLog, o.DeployEvents, o.Stderr)
		if err != nil {
			return nil, config.Invalid(&revError{which: "base", err: err})
		}
		rv.deployed, baseRev = &d, d.Commit
	}
	if rv.base, err = r.resolve(ctx, baseRev); err != nil {
		return nil, badRevision("base", err)
	}
	rv.mergeBase, err = r.mergeBase(ctx, rv.base, head)
	return rv, err
}

// revError is a base or head that cannot be used (bad input).
type revError struct {
	which string // "base", "head", or "repo" (the repository itself)
	err   error
}

func (e *revError) Error() string { return e.which + ": " + e.err.Error() }
func (e *revError) Unwrap() error { return e.err }

// badRevision is bad input unless git itself could not be run.
func badRevision(which string, err error) error {
	var ge *GitError
	if errors.As(err, &ge) || !strings.HasPrefix(err.Error(), "running git") {
		return config.Invalid(&revError{which: which, err: err})
	}
	return err
}

// parseFile parses a migration's up section and its overrides.
func parseFile(path, up string) ([]statement, []error) {
	ps, unknown, err := parseKnown(path, up)
	if err != nil {
		return nil, []error{err}
	}
	li := newLineIndex(up)
	stmts := make([]statement, 0, len(ps)+len(unknown))
	for _, s := range ps {
		stmts = append(stmts, statement{
			stmt: s,
			line: li.line(s.Start + firstTokenOffset(up[s.Start:s.End])),
			text: collapse(s.Text(up)),
		})
	}
	if len(unknown) > 0 {
		stmts = append(stmts, unknown...)
		sort.SliceStable(stmts, func(i, j int) bool { return stmts[i].stmt.Start < stmts[j].stmt.Start })
	}
	after, errs := attachOverrides(path, up, stmts)
	if len(stmts) > 0 {
		stmts[len(stmts)-1].after = after
	}
	return stmts, errs
}

// collapse squeezes whitespace and bounds a statement for reports.
func collapse(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// unusedOverrides lists overrides that allowed nothing: a typo in the rule
// or a statement that no longer needs it.
func unusedOverrides(files []*parsedFile) []string {
	var out []string
	for _, f := range files {
		for _, s := range f.stmts {
			for _, o := range s.allows {
				if !o.used {
					out = append(out, fmt.Sprintf("%s:%d: pmguard:%s %s matches no finding on its statement", f.Path, o.Line, o.Verb, strings.Join(o.Rules, ",")))
				}
			}
			for _, o := range s.after {
				out = append(out, fmt.Sprintf("%s:%d: pmguard:%s %s follows the last statement: it applies to none", f.Path, o.Line, o.Verb, strings.Join(o.Rules, ",")))
			}
		}
	}
	return out
}

// deployedMigrations reads and parses the migrations as they are at base,
// in the order they ran. A file PostgreSQL 17's parser cannot read is left
// out and named in unreadable: the schema then misses what it did.
func (o *Options) deployedMigrations(ctx context.Context, r repo, baseSHA string, basePaths []string) (base []*parsedFile, unreadable []string, err error) {
	contents, err := r.read(ctx, baseSHA, basePaths)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range basePaths {
		m := ReadMigration(p, contents[p])
		if m.Skipped != "" {
			continue
		}
		stmts, errs := parseFile(m.Path, m.Up)
		if len(errs) > 0 {
			unreadable = append(unreadable, errors.Join(errs...).Error())
			continue
		}
		base = append(base, &parsedFile{Migration: &m, stmts: stmts})
	}
	sort.SliceStable(base, func(i, j int) bool { return lessMigration(*base[i].Migration, *base[j].Migration) })
	return base, unreadable, nil
}

// realDatabase reads the compat queries and runs the real-database mode on
// the deployed migrations and the change's.
func (o *Options) realDatabase(ctx context.Context, base, files []*parsedFile, red *httpx.Redactor) (dbResult, error) {
	var added []*parsedFile
	for _, f := range files {
		if f.Status == "added" && f.Skipped == "" {
			added = append(added, f)
		}
	}
	var queries []compatQuery
	if o.CompatQueries != "" {
		var err error
		queries, err = readCompatQueries(o.CompatQueries, o.CompatQueriesText)
		if err != nil {
			return dbResult{}, config.Invalid(err)
		}
	}
	c := dbCheck{url: o.DatabaseURL, redact: red.Redact, timeout: o.Timeout, out: o.Stdout}
	return c.run(ctx, base, added, queries)
}
