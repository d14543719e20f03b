// Command score compares what pmguard migrations and a plain git grep loop
// reported with the truth the generator planted: which dropped or renamed
// names the deployed code still uses.
//
//	go run ./scripts/bench/migrations/score -truth T -report report.json -naive naive.txt
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
)

func main() {
	truthPath := flag.String("truth", "", "truth.txt from gen")
	reportPath := flag.String("report", "", "pmguard's JSON report")
	naivePath := flag.String("naive", "", `git grep loop output: "<name> <hit lines>" per line`)
	flag.Parse()

	used := map[string]bool{} // table or table.column -> still used
	for _, line := range lines(*truthPath) {
		f := strings.Fields(line)
		if len(f) == 3 {
			used[f[1]] = f[2] == "used"
		}
	}

	var rep struct {
		Findings []struct {
			Rule   string `json:"rule"`
			Blocks bool   `json:"blocks"`
			Table  string `json:"table"`
			Column string `json:"column"`
			Hits   []any  `json:"hits"`
			More   int    `json:"more_hits"`
		} `json:"findings"`
	}
	b, err := os.ReadFile(*reportPath)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		log.Fatal(err)
	}
	pm := map[string]bool{}
	pmHits := 0
	for _, f := range rep.Findings {
		switch f.Rule {
		case "drop-column", "drop-table", "rename-column", "rename-table":
			name := f.Table
			if f.Column != "" {
				name += "." + f.Column
			}
			pm[name] = f.Blocks
			pmHits += len(f.Hits) + f.More
		}
	}

	// The loop searched bare names ("legacy_code", "users"); a column's
	// name is flagged when the search found any line.
	naive := map[string]int{}
	for _, line := range lines(*naivePath) {
		f := strings.Fields(line)
		if len(f) == 2 {
			n, _ := strconv.Atoi(f[1])
			naive[f[0]] = n
		}
	}
	naiveHits := 0
	for _, n := range naive {
		naiveHits += n
	}

	score := func(flagged func(string) bool) (tp, fp, fn int) {
		for name, u := range used {
			switch f := flagged(name); {
			case f && u:
				tp++
			case f && !u:
				fp++
			case !f && u:
				fn++
			}
		}
		return
	}
	ptp, pfp, pfn := score(func(n string) bool { return pm[n] })
	ntp, nfp, nfn := score(func(n string) bool {
		bare := n
		if i := strings.IndexByte(n, '.'); i >= 0 {
			bare = n[i+1:]
		}
		return naive[bare] > 0
	})
	fmt.Printf("names dropped or renamed: %d (%d still used by the deployed code)\n", len(used), count(used))
	fmt.Printf("pmguard:      %d hit lines quoted; blocks %d of %d used names (missed %d), %d false alarms\n", pmHits, ptp, count(used), pfn, pfp)
	fmt.Printf("git grep loop: %d hit lines to read; flags %d of %d used names (missed %d), %d false alarms\n", naiveHits, ntp, count(used), nfn, nfp)
}

func count(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

func lines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
