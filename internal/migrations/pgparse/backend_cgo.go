//go:build cgo && !pmguard_wasm

package pgparse

import (
	"errors"

	pgquery "github.com/pganalyze/pg_query_go/v6/parser"
)

const backend = "libpg_query (cgo)"

func parseJSON(sql string) (string, error) {
	out, err := pgquery.ParseToJSON(sql)
	var pe *pgquery.Error
	if errors.As(err, &pe) {
		return "", syntaxError(sql, pe.Message, pe.Cursorpos)
	}
	return out, err
}

// UseCacheDir does nothing in the cgo build: there is no module to compile.
func UseCacheDir(string) {}
