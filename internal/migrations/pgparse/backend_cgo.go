//go:build cgo && !pmguard_wasm

package pgparse

import (
	"errors"

	pgquery "github.com/pganalyze/pg_query_go/v6/parser"
)

const backend = "libpg_query (cgo)"

func parseJSON(sql string) (string, error) {
	out, err := pgquery.ParseToJSON(sql)
	if err != nil {
		var pe *pgquery.Error
		if errors.As(err, &pe) {
			return "", &Error{Message: pe.Message, Offset: cursorToOffset(sql, pe.Cursorpos)}
		}
		return "", err
	}
	return out, nil
}
