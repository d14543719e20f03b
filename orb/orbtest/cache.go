package orbtest

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cache is CircleCI's dependency cache for the jobs that share it: save_cache
// stores paths under a key once (a key is never overwritten), restore_cache
// looks keys up in order, each an exact key or else the most recently saved
// key it is a prefix of, and copies the files back. A path under the job's
// HOME is stored relative to HOME, so a job with another HOME (another
// machine of the same image) restores it into its own.
type Cache struct {
	dir string

	mu      sync.Mutex
	entries []*CacheEntry // in the order saved
}

// CacheEntry is one saved cache.
type CacheEntry struct {
	Key string
	// Dir holds the saved files: home/<path under HOME>,
	// project/<path under the working directory>, abs/<other absolute path>.
	// Tests may change files here to model a tampered cache.
	Dir string
}

// NewCache makes an empty cache under tb's temp dir.
func NewCache(tb testing.TB) *Cache {
	tb.Helper()
	return &Cache{dir: tb.TempDir()}
}

// Entries returns the saved caches, oldest first.
func (c *Cache) Entries() []*CacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*CacheEntry(nil), c.entries...)
}

func (c *Cache) lookup(key string) *CacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.Key == key {
			return e
		}
	}
	for i := len(c.entries) - 1; i >= 0; i-- {
		if strings.HasPrefix(c.entries[i].Key, key) {
			return c.entries[i]
		}
	}
	return nil
}

// reserve returns a new entry for key, or nil when key is already saved.
func (c *Cache) reserve(key string) (*CacheEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.Key == key {
			return nil, nil
		}
	}
	dir, err := os.MkdirTemp(c.dir, "entry-")
	if err != nil {
		return nil, err
	}
	e := &CacheEntry{Key: key, Dir: dir}
	c.entries = append(c.entries, e)
	return e, nil
}

var templateRe = regexp.MustCompile(`\{\{\s*(.*?)\s*\}\}`)

// renderKey expands a cache key template as CircleCI does: {{ arch }},
// {{ checksum "file" }} (base64 of the file's SHA-256; the path relative to
// the working directory), {{ .Environment.NAME }} (the job's environment),
// {{ .Branch }}, {{ .Revision }}, {{ .BuildNum }}, {{ epoch }}.
func (j *Job) renderKey(tmpl string) (string, error) {
	var err error
	out := templateRe.ReplaceAllStringFunc(tmpl, func(m string) string {
		expr := templateRe.FindStringSubmatch(m)[1]
		v, e := j.templateValue(expr)
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	return out, err
}

func (j *Job) templateValue(expr string) (string, error) {
	switch {
	case expr == "arch":
		return "arch1-" + runtime.GOOS + "-" + runtime.GOARCH, nil
	case expr == "epoch":
		return strconv.FormatInt(time.Now().Unix(), 10), nil
	case expr == ".Branch":
		return j.Pipeline["git.branch"], nil
	case expr == ".Revision":
		return j.Pipeline["git.revision"], nil
	case expr == ".BuildNum":
		return "1", nil
	case strings.HasPrefix(expr, ".Environment."):
		return j.Env[strings.TrimPrefix(expr, ".Environment.")], nil
	case strings.HasPrefix(expr, "checksum "):
		name, err := strconv.Unquote(strings.TrimSpace(strings.TrimPrefix(expr, "checksum ")))
		if err != nil {
			return "", fmt.Errorf("checksum wants a quoted file name, got %q", expr)
		}
		b, err := os.ReadFile(j.abs(name))
		if err != nil {
			return "", fmt.Errorf("checksum: %w", err)
		}
		sum := sha256.Sum256(b)
		return base64.URLEncoding.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("cache key template {{ %s }} is not supported", expr)
}

// stored maps a path of the job to its place in an entry and back.
func (j *Job) stored(path string) string {
	p := j.abs(path)
	if rel, err := filepath.Rel(j.Home, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join("home", rel)
	}
	if rel, err := filepath.Rel(j.Dir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join("project", rel)
	}
	return filepath.Join("abs", p)
}

func (j *Job) restored(stored string) string {
	first, rest, _ := strings.Cut(filepath.ToSlash(stored), "/")
	switch first {
	case "home":
		return filepath.Join(j.Home, filepath.FromSlash(rest))
	case "project":
		return filepath.Join(j.Dir, filepath.FromSlash(rest))
	}
	return "/" + rest
}

func (j *Job) saveCache(body any) StepResult {
	res := StepResult{Kind: "save_cache", Name: "Saving Cache", Ran: true}
	m, _ := body.(map[string]any)
	if n, ok := m["name"]; ok {
		res.Name = Text(n)
	}
	key, err := j.renderKey(Text(m["key"]))
	if err != nil {
		res.Output = err.Error()
		return res
	}
	res.Path = key
	paths, _ := m["paths"].([]any)
	e, err := j.Cache.reserve(key)
	switch {
	case err != nil:
		res.Output = err.Error()
		return res
	case e == nil:
		res.Output = fmt.Sprintf("Skipping cache generation, cache already exists for key: %s", key)
		return res
	}
	var saved []string
	for _, p := range paths {
		src := j.abs(Text(p))
		if _, err := os.Stat(src); err != nil {
			saved = append(saved, "Warning: could not find "+Text(p))
			continue
		}
		if err := copyTree(src, filepath.Join(e.Dir, j.stored(Text(p)))); err != nil {
			saved = append(saved, "error: "+err.Error())
			continue
		}
		saved = append(saved, "Saved "+Text(p))
		res.Exists = true
	}
	res.Output = fmt.Sprintf("Creating cache for key %s\n%s", key, strings.Join(saved, "\n"))
	return res
}

func (j *Job) restoreCache(body any) StepResult {
	res := StepResult{Kind: "restore_cache", Name: "Restoring Cache", Ran: true}
	m, _ := body.(map[string]any)
	if n, ok := m["name"]; ok {
		res.Name = Text(n)
	}
	var keys []string
	if k, ok := m["key"]; ok {
		keys = append(keys, Text(k))
	}
	if list, ok := m["keys"].([]any); ok {
		for _, k := range list {
			keys = append(keys, Text(k))
		}
	}
	for _, tmpl := range keys {
		key, err := j.renderKey(tmpl)
		if err != nil {
			res.Output = err.Error()
			return res
		}
		e := j.Cache.lookup(key)
		if e == nil {
			continue
		}
		err = filepath.WalkDir(e.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == e.Dir {
				return err
			}
			rel, _ := filepath.Rel(e.Dir, p)
			if strings.Count(filepath.ToSlash(rel), "/") == 0 && d.IsDir() {
				return nil // home, project, abs
			}
			dst := j.restored(rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			return copyFile(p, dst)
		})
		if err != nil {
			res.Output = err.Error()
			return res
		}
		res.Path, res.Exists = e.Key, true
		res.Output = "Found a cache with key " + e.Key
		return res
	}
	res.Output = "No cache is found for keys: " + strings.Join(keys, ", ")
	return res
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			return copyFile(p, to)
		}
		return nil // sockets, links: not cached
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
