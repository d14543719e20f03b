// Package suggest finds the intended word for a mistyped verb or flag, the
// "did you mean" of git, gh and kubectl.
package suggest

import "strings"

// Closest returns the candidate nearest to word (by edit distance, a prefix
// counting as near), or "" when none is close enough to be a plausible typo.
func Closest(word string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := distance(strings.ToLower(word), strings.ToLower(c))
		// A word that is the candidate's start, give or take its last
		// letter, is a shortening or a plural slip: retry for retries.
		if len(word) >= 3 && strings.HasPrefix(c, word) || len(word) >= 4 && strings.HasPrefix(c, word[:len(word)-1]) {
			d = 1
		}
		if best == "" || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	// Allow two typos in a word of four letters or more, one below that.
	limit := 1
	if len(word) >= 4 {
		limit = max(2, len(word)/3)
	}
	if best == "" || bestD > limit {
		return ""
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
