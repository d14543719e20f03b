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

// distance is the optimal string alignment distance between a and b: the
// Levenshtein distance with a swap of two adjacent letters (ulr for url)
// counting as one edit, the commonest typo of all.
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
