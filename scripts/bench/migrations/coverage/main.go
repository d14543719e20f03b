// Command coverage compares, class by class, what pmguard's migration rules
// and squawk report on the rule fixtures (internal/migrations/testdata/rules:
// an unsafe and a safe case per class, each with the findings pmguard must
// produce in its "-- expect:" line, checked by TestRuleFixtures). It runs
// squawk on every fixture and prints a Markdown table:
//
//	go run ./scripts/bench/migrations/coverage -squawk /path/to/squawk
//
// A fixture counts as caught by squawk when squawk reports any rule other
// than its style rules and its timeout rules (for the timeout classes, the
// timeout rule itself), which is generous to squawk: any rule counts, not
// only one about the class. A safe fixture is a false alarm when it does.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var style = map[string]bool{
	"prefer-robust-stmts": true, "prefer-bigint-over-int": true, "prefer-bigint-over-smallint": true,
	"prefer-big-int": true, "prefer-identity": true, "prefer-text-field": true, "prefer-timestamptz": true,
	"ban-char-field": true, "require-table-schema": true, "identifier-too-long": true,
}

var timeouts = map[string]bool{"require-lock-timeout": true, "require-statement-timeout": true, "require-timeout-settings": true}

type row struct {
	unsafe, safe                         int
	pmCaught, pmFalse, sqCaught, sqFalse int
	sqRules                              map[string]bool
}

func main() {
	squawk := flag.String("squawk", "squawk", "squawk binary")
	dir := flag.String("dir", "internal/migrations/testdata/rules", "fixtures")
	flag.Parse()
	paths, err := filepath.Glob(filepath.Join(*dir, "*.sql"))
	if err != nil || len(paths) == 0 {
		log.Fatalf("no fixtures in %s", *dir)
	}
	reExpect := regexp.MustCompile(`(?m)^-- expect:(.*)$`)
	rePG := regexp.MustCompile(`(?m)^-- postgres:\s*(\d+)`)
	reFile := regexp.MustCompile(`(?m)^-- file:\s*(\S+)`)
	rows := map[string]*row{}
	for _, p := range paths {
		name := filepath.Base(p)
		parts := strings.Split(name, ".")
		class, kind := parts[0], parts[1]
		b, err := os.ReadFile(p)
		if err != nil {
			log.Fatal(err)
		}
		src := string(b)
		expect := strings.Fields(reExpect.FindStringSubmatch(src)[1])
		pg := "13"
		if m := rePG.FindStringSubmatch(src); m != nil {
			pg = m[1]
		}
		args := []string{"--reporter", "json", "--pg-version", pg + ".0"}
		if m := reFile.FindStringSubmatch(src); m != nil && strings.HasSuffix(m[1], ".up.sql") || strings.Contains(src, "-- +goose Up") && !strings.Contains(src, "NO TRANSACTION") {
			args = append(args, "--assume-in-transaction")
		}
		out, _ := exec.Command(*squawk, append(args, p)...).Output()
		var vs []struct {
			Rule string `json:"rule_name"`
		}
		_ = json.Unmarshal(out, &vs)
		flagged := map[string]bool{}
		for _, v := range vs {
			switch {
			case style[v.Rule]:
			case timeouts[v.Rule] && class != "lock-timeout" && class != "statement-timeout":
			default:
				flagged[v.Rule] = true
			}
		}
		r := rows[class]
		if r == nil {
			r = &row{sqRules: map[string]bool{}}
			rows[class] = r
		}
		pm := false
		for _, e := range expect {
			pm = pm || e == class
		}
		if kind == "unsafe" {
			r.unsafe++
			if pm {
				r.pmCaught++
			}
			if len(flagged) > 0 {
				r.sqCaught++
				for k := range flagged {
					r.sqRules[k] = true
				}
			}
		} else {
			r.safe++
			if pm {
				r.pmFalse++
			}
			if len(flagged) > 0 {
				r.sqFalse++
			}
		}
	}
	var classes []string
	for c := range rows {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	fmt.Println("| class (pmguard rule) | unsafe / safe fixtures | pmguard caught | pmguard false alarms | squawk caught | squawk false alarms | squawk rules that fired on the unsafe ones |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var t row
	for _, c := range classes {
		r := rows[c]
		var rules []string
		for k := range r.sqRules {
			rules = append(rules, "`"+k+"`")
		}
		sort.Strings(rules)
		fmt.Printf("| `%s` | %d / %d | %d | %d | %d | %d | %s |\n", c, r.unsafe, r.safe, r.pmCaught, r.pmFalse, r.sqCaught, r.sqFalse, strings.Join(rules, ", "))
		t.unsafe += r.unsafe
		t.safe += r.safe
		t.pmCaught += r.pmCaught
		t.pmFalse += r.pmFalse
		t.sqCaught += r.sqCaught
		t.sqFalse += r.sqFalse
	}
	fmt.Printf("| **all** | %d / %d | %d | %d | %d | %d | |\n", t.unsafe, t.safe, t.pmCaught, t.pmFalse, t.sqCaught, t.sqFalse)
}
