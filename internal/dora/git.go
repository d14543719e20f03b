package dora

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Attribute finds, with the local git repository in dir, the commits each
// successful deployment (rollbacks aside) shipped first: those reachable from its revision and
// from no earlier successful deployment. The earliest deployment is the
// baseline (what it shipped cannot be told apart from older history), so
// callers pass deploys from before the window too. Git runs twice, however
// many deployments there are: once to check the revisions exist, once to
// list the commit graph between the baseline and the newest deployment.
func Attribute(ctx context.Context, dir string, deploys []Deploy) ([]Change, []string, error) {
	var ok []Deploy
	for _, d := range deploys {
		// A rollback ships no change: CircleCI records the branch head,
		// the commit it removed, as its revision.
		if d.Status == "success" && !d.Finished.IsZero() && d.Revision != "" && !d.Rollback {
			ok = append(ok, d)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].Finished.Before(ok[j].Finished) })
	if len(ok) == 0 {
		return nil, nil, nil
	}
	var notes []string
	known, err := existing(ctx, dir, ok)
	if err != nil {
		return nil, nil, err
	}
	var usable []Deploy
	missing := 0
	for _, d := range ok {
		if known[d.Revision] {
			usable = append(usable, d)
		} else {
			missing++
		}
	}
	if missing > 0 {
		notes = append(notes, fmt.Sprintf("%d deployed revision(s) are not in the local repository (fetch full history, e.g. git fetch --unshallow); their commits have no lead time", missing))
	}
	if len(usable) == 0 {
		return nil, notes, nil
	}
	base := usable[0]
	graph, err := commitGraph(ctx, dir, usable, base.Revision)
	if err != nil {
		return nil, notes, err
	}
	var out []Change
	seen := map[string]bool{}
	for _, d := range usable[1:] {
		stack := []string{d.Revision}
		for len(stack) > 0 {
			h := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c, inGraph := graph[h]
			if !inGraph || seen[h] {
				continue
			}
			seen[h] = true
			out = append(out, Change{Commit: h, Authored: c.authored, PipelineID: d.PipelineID, Deployed: d.Finished})
			stack = append(stack, c.parents...)
		}
	}
	return out, notes, nil
}

type commit struct {
	parents  []string
	authored time.Time
}

// revisionLines is git's standard input: each deployed revision once, with
// suffix, one per line.
func revisionLines(ds []Deploy, suffix string) *bytes.Buffer {
	var in bytes.Buffer
	seen := map[string]bool{}
	for _, d := range ds {
		if !seen[d.Revision] {
			seen[d.Revision] = true
			in.WriteString(d.Revision + suffix + "\n")
		}
	}
	return &in
}

// existing asks git which revisions it has (cat-file --batch-check).
func existing(ctx context.Context, dir string, ds []Deploy) (map[string]bool, error) {
	in := revisionLines(ds, "^{commit}")
	out := map[string]bool{}
	// cat-file answers one line per input line, in order.
	lines := strings.Split(strings.TrimSuffix(in.String(), "\n"), "\n")
	res, err := git(ctx, dir, in, "cat-file", "--batch-check")
	if err != nil {
		return nil, err
	}
	answers := strings.Split(strings.TrimSuffix(string(res), "\n"), "\n")
	for i, l := range lines {
		if i < len(answers) && !strings.HasSuffix(answers[i], " missing") && strings.Contains(answers[i], " commit ") {
			out[strings.TrimSuffix(l, "^{commit}")] = true
		}
	}
	return out, nil
}

// commitGraph lists every commit reachable from the deployments but not from
// base, with parents and author time, streaming git's output.
func commitGraph(ctx context.Context, dir string, ds []Deploy, base string) (map[string]commit, error) {
	in := revisionLines(ds, "")
	in.WriteString("^" + base + "\n")
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "log", "--format=%H %at %P", "--stdin")
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git: %w", err)
	}
	graph := map[string]commit{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		sec, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		graph[f[0]] = commit{parents: f[2:], authored: time.Unix(sec, 0).UTC()}
	}
	if err := sc.Err(); err != nil {
		io.Copy(io.Discard, stdout) //nolint:errcheck // draining so git can exit
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git log in %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return graph, nil
}

func git(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s in %s: %v: %s", args[0], dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
