// Package pack turns the orb source tree (orb-tools layout: @orb.yml,
// commands/, jobs/, executors/, examples/, scripts/) into the single orb.yml
// that is published, the way `circleci orb pack` does but keeping every key
// of an example's usage (the CLI keeps only version, setup, orbs, jobs and
// workflows; the rollback examples declare pipeline parameters), and pins a
// release in it: the install command's default version and the SHA-256 of
// each release archive, so a user's job verifies the binary against
// checksums that came with the orb rather than from the download server.
package pack

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Sections are the orb's definition folders, in the order they are packed.
var Sections = []string{"commands", "jobs", "executors", "examples"}

// Env var names of the install run step that carry the pin. The install
// script reads them; see orb/src/scripts/install.sh.
const (
	EnvPinnedVersion   = "PMGUARD_ORB_VERSION"
	EnvPinnedChecksums = "PMGUARD_ORB_CHECKSUMS"
)

// CacheKeyUnpinned is the part of the install command's cache keys that
// applyPin replaces with the pin (CacheKeyPin), so that each orb release
// keys its cache apart: a cache key is never overwritten, and an archive
// restored under another release's key would only be discarded.
const CacheKeyUnpinned = "-unpinned-"

// CacheKeyPin is what CacheKeyUnpinned becomes for pin: the version and
// the first 16 hex digits of the SHA-256 of its checksums.txt.
func CacheKeyPin(pin *Pin) string {
	sum := sha256.Sum256([]byte(strings.TrimRight(string(pin.Checksums), "\n") + "\n"))
	return "-pin-" + pin.Version + "-" + hex.EncodeToString(sum[:8]) + "-"
}

// Pin is the release an orb is packed for.
type Pin struct {
	Version   string // e.g. 1.2.3, without the tag's v
	Checksums []byte // the release's checksums.txt (sha256sum format)
}

// includeRe is circleci-cli's include statement: `<<include(path)>>`, the
// path of word characters, '-', '/' and '.', spaces allowed inside the
// angle brackets. looseIncludeRe finds anything that looks like one, so a
// typo (a space in the path, a second include) fails the pack instead of
// reaching CircleCI as text.
var (
	includeRe      = regexp.MustCompile(`<<\s*include\(([-\w/.]+)\)\s*>>`)
	looseIncludeRe = regexp.MustCompile(`<<\s*include\(`)
	versionRe      = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+-]*$`)
	checksumRe     = regexp.MustCompile(`^([0-9a-f]{64}) [ *](\S+)$`)
)

// ArchiveName is the release archive of a version for os/arch; the install
// script builds the same name.
func ArchiveName(version, goos, goarch string) string {
	return fmt.Sprintf("pmguard_%s_%s_%s.tar.gz", version, goos, goarch)
}

// ParseChecksums reads a checksums.txt and returns file name -> SHA-256.
// Every line must be "<64 hex>  <name>"; anything else is an error, since a
// malformed line would silently disable verification of one archive.
func ParseChecksums(b []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := checksumRe.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("checksums line %d %q: want \"<sha256 hex>  <file>\"", n, line)
		}
		if _, dup := sums[m[2]]; dup {
			return nil, fmt.Errorf("checksums line %d: %s listed twice", n, m[2])
		}
		sums[m[2]] = m[1]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(sums) == 0 {
		return nil, errors.New("checksums: no entries")
	}
	return sums, nil
}

// Check verifies that the pin is usable and lists an archive for each of
// targets ("linux/amd64" ...). Archives of another version are rejected: they
// would be pinned under the wrong name.
func (p Pin) Check(targets []string) error {
	if !versionRe.MatchString(p.Version) {
		return fmt.Errorf("version %q: want a release version such as 1.2.3 (no leading v)", p.Version)
	}
	sums, err := ParseChecksums(p.Checksums)
	if err != nil {
		return err
	}
	prefix := "pmguard_" + p.Version + "_"
	for name := range sums {
		if strings.HasSuffix(name, ".tar.gz") && !strings.HasPrefix(name, prefix) {
			return fmt.Errorf("checksums list %s, which is not an archive of version %s", name, p.Version)
		}
	}
	for _, t := range targets {
		goos, goarch, ok := strings.Cut(t, "/")
		if !ok {
			return fmt.Errorf("target %q: want os/arch", t)
		}
		if _, ok := sums[ArchiveName(p.Version, goos, goarch)]; !ok {
			return fmt.Errorf("checksums have no entry for %s", ArchiveName(p.Version, goos, goarch))
		}
	}
	return nil
}

// Pack reads the orb source in dir and returns the packed orb. With a nil
// pin the install command is left unpinned (its users must pass a version),
// which is what tests of the orb's shape want.
func Pack(dir string, pin *Pin) ([]byte, error) {
	root, err := Tree(dir)
	if err != nil {
		return nil, err
	}
	if pin != nil {
		if err := pin.Check(nil); err != nil {
			return nil, err
		}
		if err := applyPin(root, pin); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Tree reads the orb source in dir into one YAML mapping: @orb.yml plus one
// key per definition file under each section, with <<include(file)>>
// replaced by the file's text.
func Tree(dir string) (*yaml.Node, error) {
	root, err := readMapping(filepath.Join(dir, "@orb.yml"))
	if err != nil {
		return nil, err
	}
	for _, section := range Sections {
		files, err := filepath.Glob(filepath.Join(dir, section, "*.y*ml"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) == 0 {
			continue
		}
		if Lookup(root, section) != nil {
			return nil, fmt.Errorf("@orb.yml defines %s inline; keep them in %s/", section, section)
		}
		defs := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		seen := map[string]string{}
		for _, f := range files {
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".yml"), ".yaml")
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("%s: %s %q is also defined in %s", f, section, name, prev)
			}
			seen[name] = f
			def, err := readMapping(f)
			if err != nil {
				return nil, err
			}
			defs.Content = append(defs.Content, scalar(name), def)
		}
		root.Content = append(root.Content, scalar(section), defs)
	}
	if err := resolveIncludes(root, dir); err != nil {
		return nil, err
	}
	unfold(root)
	return root, nil
}

// unfold turns folded (>) scalars into plain ones: the encoder would write
// each as one long folded line followed by a blank line, which is harder to
// read in the published orb than the same text as a plain scalar.
func unfold(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Style == yaml.FoldedStyle {
		n.Style = 0
		n.Value = strings.TrimRight(n.Value, "\n")
	}
	for _, c := range n.Content {
		unfold(c)
	}
}

func readMapping(path string) (*yaml.Node, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a YAML mapping", path)
	}
	return doc.Content[0], nil
}

// resolveIncludes replaces every scalar that is <<include(path)>> with the
// text of dir/path, escaped as circleci orb pack escapes it (see Escape). As
// with circleci orb pack, the include must be the whole value and there is
// at most one; the path must also stay inside the orb source.
func resolveIncludes(n *yaml.Node, dir string) error {
	if n.Kind == yaml.ScalarNode {
		if !looseIncludeRe.MatchString(n.Value) {
			return nil
		}
		all := includeRe.FindAllStringSubmatch(n.Value, -1)
		switch {
		case len(all) == 0:
			return fmt.Errorf("line %d: malformed include %q: want <<include(path)>> with a path of letters, digits, _, -, / and dots", n.Line, n.Value)
		case len(all) > 1 || len(looseIncludeRe.FindAllString(n.Value, -1)) > 1:
			return fmt.Errorf("line %d: multiple include statements in %q", n.Line, n.Value)
		case all[0][0] != n.Value:
			return fmt.Errorf("line %d: <<include(...)>> must be the whole value, found %q", n.Line, n.Value)
		}
		rel := all[0][1]
		clean := filepath.Clean(rel)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return fmt.Errorf("line %d: include path %q leaves the orb source", n.Line, rel)
		}
		b, err := os.ReadFile(filepath.Join(dir, clean))
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		n.Value = Escape(string(b))
		n.Tag = "!!str"
		n.Style = yaml.LiteralStyle
		return nil
	}
	for _, c := range n.Content {
		if err := resolveIncludes(c, dir); err != nil {
			return err
		}
	}
	return nil
}

// Escape is what circleci orb pack does to an included file: every "<<"
// becomes "\<<", so that CircleCI, which reads "<<" in config 2.1 as the
// start of a << parameters.x >> or << pipeline.x >> reference, keeps the
// text as written ("\<<" compiles to "<<"). The replacement is left to
// right and does not overlap: "<<<" (a here-string) becomes "\<<<" and
// "<<<<" becomes "\<<\<<". References in an included file are therefore
// never substituted: scripts get parameters through the environment.
func Escape(s string) string { return strings.ReplaceAll(s, "<<", `\<<`) }

// Unescape is what CircleCI does to an escaped "\<<" when it compiles a
// config: it becomes "<<". Unescape(Escape(s)) == s for every s.
func Unescape(s string) string { return strings.ReplaceAll(s, `\<<`, "<<") }

// applyPin writes the version and checksums into the install command.
func applyPin(root *yaml.Node, pin *Pin) error {
	install := Lookup(Lookup(root, "commands"), "install")
	if install == nil {
		return errors.New("no install command to pin (commands/install.yml)")
	}
	def := Lookup(Lookup(Lookup(install, "parameters"), "version"), "default")
	if def == nil {
		return errors.New("install command has no version parameter with a default")
	}
	setString(def, pin.Version)
	pinned := 0
	steps := Lookup(install, "steps")
	if steps == nil {
		return errors.New("install command has no steps")
	}
	for _, step := range steps.Content {
		env := Lookup(Lookup(step, "run"), "environment")
		v, sums := Lookup(env, EnvPinnedVersion), Lookup(env, EnvPinnedChecksums)
		if v == nil || sums == nil {
			continue
		}
		setString(v, pin.Version)
		setString(sums, strings.TrimRight(string(pin.Checksums), "\n")+"\n")
		sums.Style = yaml.LiteralStyle
		pinned++
	}
	if pinned != 1 {
		return fmt.Errorf("want exactly one install run step with %s and %s in its environment, found %d", EnvPinnedVersion, EnvPinnedChecksums, pinned)
	}
	return pinCacheKeys(steps, CacheKeyPin(pin))
}

// pinCacheKeys writes pin into the key of every restore_cache and
// save_cache step of steps (descending into when and unless).
func pinCacheKeys(steps *yaml.Node, pin string) error {
	if steps == nil || steps.Kind != yaml.SequenceNode {
		return nil
	}
	for _, step := range steps.Content {
		for _, cond := range []string{"when", "unless"} {
			if err := pinCacheKeys(Lookup(Lookup(step, cond), "steps"), pin); err != nil {
				return err
			}
		}
		var keys []*yaml.Node
		if k := Lookup(Lookup(step, "save_cache"), "key"); k != nil {
			keys = append(keys, k)
		}
		rc := Lookup(step, "restore_cache")
		if k := Lookup(rc, "key"); k != nil {
			keys = append(keys, k)
		}
		if list := Lookup(rc, "keys"); list != nil {
			keys = append(keys, list.Content...)
		}
		for _, k := range keys {
			if k.Kind != yaml.ScalarNode || !strings.Contains(k.Value, CacheKeyUnpinned) {
				return fmt.Errorf("line %d: install cache key %q does not hold %q for the pin", k.Line, k.Value, CacheKeyUnpinned)
			}
			k.Value = strings.Replace(k.Value, CacheKeyUnpinned, pin, 1)
		}
	}
	return nil
}

func setString(n *yaml.Node, v string) {
	n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", v, yaml.DoubleQuotedStyle
	n.Content = nil
}

func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

// Lookup returns the value of key in mapping n, or nil.
func Lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
