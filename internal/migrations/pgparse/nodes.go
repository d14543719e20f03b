package pgparse

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Node is one node of libpg_query's JSON parse tree: {"TypeName": {...}}.
// Its fields are decoded on demand with Into, so only the node types a rule
// looks at need a Go struct.
type Node struct {
	Type string
	raw  json.RawMessage
}

// UnmarshalJSON reads a single-key object.
func (n *Node) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*n = Node{}
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if len(m) != 1 {
		return fmt.Errorf("parse tree node with %d keys", len(m))
	}
	for k, v := range m {
		n.Type, n.raw = k, v
	}
	return nil
}

// Into decodes the node's fields into v (a pointer to one of the structs
// below); it reports false when they do not fit.
func (n Node) Into(v any) bool {
	return n.raw != nil && json.Unmarshal(n.raw, v) == nil
}

// Contains reports whether a node of the given type occurs anywhere in n.
func (n Node) Contains(typ string) bool {
	return n.Type == typ || bytes.Contains(n.raw, []byte(`"`+typ+`":`))
}

// All decodes each node of type typ in a list into a T, leaving out the
// others: a column's constraints, an ALTER TABLE's commands, a qualified
// name's parts.
func All[T any](nodes []Node, typ string) []T {
	out := make([]T, 0, len(nodes))
	for _, n := range nodes {
		var v T
		if n.Type == typ && n.Into(&v) {
			out = append(out, v)
		}
	}
	return out
}

// Strings returns the svals of a list of String nodes (a qualified name).
func Strings(nodes []Node) []string {
	var out []string
	for _, s := range All[String](nodes, "String") {
		out = append(out, s.Sval)
	}
	return out
}

// Constraints decodes a list of Constraint nodes (a column's or a domain's).
func Constraints(nodes []Node) []Constraint { return All[Constraint](nodes, "Constraint") }

// AlterTableCmds decodes an ALTER TABLE's commands.
func AlterTableCmds(nodes []Node) []AlterTableCmd { return All[AlterTableCmd](nodes, "AlterTableCmd") }

// LastString returns the last part of a qualified name ("public.users" -> "users").
func LastString(nodes []Node) string {
	s := Strings(nodes)
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// The node types the migration rules read. Field names follow libpg_query's
// JSON output (PostgreSQL's own node field names).

type String struct {
	Sval string `json:"sval"`
}

type List struct {
	Items []Node `json:"items"`
}

type RangeVar struct {
	Schemaname string `json:"schemaname"`
	Relname    string `json:"relname"`
}

type TypeName struct {
	Names       []Node `json:"names"`
	Typmods     []Node `json:"typmods"`
	ArrayBounds []Node `json:"arrayBounds"`
}

// Name is the type's unqualified name ("int8", "text", "serial").
func (t TypeName) Name() string { return LastString(t.Names) }

type ColumnDef struct {
	Colname     string   `json:"colname"`
	TypeName    TypeName `json:"typeName"`
	Constraints []Node   `json:"constraints"`
	RawDefault  Node     `json:"raw_default"`
	IsNotNull   bool     `json:"is_not_null"`
	// CollClause is a CollateClause written inline (the field is not a Node)
	CollClause *struct {
		Collname []Node `json:"collname"`
	} `json:"collClause"`
}

// Collation is the collation a column definition names (COLLATE), "" for
// none (the type's default).
func (d ColumnDef) Collation() string {
	if d.CollClause == nil {
		return ""
	}
	return LastString(d.CollClause.Collname)
}

type Constraint struct {
	Contype        string    `json:"contype"`
	Conname        string    `json:"conname"`
	SkipValidation bool      `json:"skip_validation"`
	RawExpr        Node      `json:"raw_expr"`
	Indexname      string    `json:"indexname"`
	Keys           []Node    `json:"keys"`
	Pktable        *RangeVar `json:"pktable"`
	GeneratedWhen  string    `json:"generated_when"`
}

type CreateStmt struct {
	Relation  RangeVar `json:"relation"`
	TableElts []Node   `json:"tableElts"`
}

type AlterTableStmt struct {
	Relation  RangeVar `json:"relation"`
	Cmds      []Node   `json:"cmds"`
	Objtype   string   `json:"objtype"`
	MissingOk bool     `json:"missing_ok"`
}

type AlterTableCmd struct {
	Subtype  string `json:"subtype"`
	Name     string `json:"name"`
	Def      Node   `json:"def"`
	Behavior string `json:"behavior"`
}

type RenameStmt struct {
	RenameType   string    `json:"renameType"`
	RelationType string    `json:"relationType"`
	Relation     *RangeVar `json:"relation"`
	Object       Node      `json:"object"`
	Subname      string    `json:"subname"`
	Newname      string    `json:"newname"`
}

type DropStmt struct {
	Objects    []Node `json:"objects"`
	RemoveType string `json:"removeType"`
	Behavior   string `json:"behavior"`
	Concurrent bool   `json:"concurrent"`
	MissingOk  bool   `json:"missing_ok"`
}

// ObjectNames returns the unqualified name of each dropped object.
func (d DropStmt) ObjectNames() []string {
	var out []string
	for _, o := range d.Objects {
		if name := ObjectName(o); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// ObjectParts returns the parts of a qualified-name List or String
// ("audit.users" -> audit, users); nil for anything else.
func ObjectParts(o Node) []string {
	switch o.Type {
	case "List":
		var l List
		if o.Into(&l) {
			return Strings(l.Items)
		}
	case "String":
		var s String
		if o.Into(&s) {
			return []string{s.Sval}
		}
	}
	return nil
}

// ObjectName returns the unqualified name of an object named by a
// qualified-name List, a String or a TypeName (DROP's, RENAME's and
// ALTER ... OWNER's object), "" for anything else.
func ObjectName(o Node) string {
	if o.Type == "TypeName" { // DROP TYPE's and DROP DOMAIN's objects
		var t TypeName
		if o.Into(&t) {
			return t.Name()
		}
		return ""
	}
	if parts := ObjectParts(o); len(parts) > 0 {
		return parts[len(parts)-1]
	}
	return ""
}

type IndexStmt struct {
	Idxname     string   `json:"idxname"`
	Relation    RangeVar `json:"relation"`
	IndexParams []Node   `json:"indexParams"`
	Unique      bool     `json:"unique"`
	Primary     bool     `json:"primary"`
	Concurrent  bool     `json:"concurrent"`
}

// IndexElem is one key of an index: a column (Name) or an expression
// (Name empty).
type IndexElem struct {
	Name string `json:"name"`
}

type TruncateStmt struct {
	Relations []Node `json:"relations"`
	Behavior  string `json:"behavior"`
}

type AlterEnumStmt struct {
	TypeName []Node `json:"typeName"`
	OldVal   string `json:"oldVal"`
	NewVal   string `json:"newVal"`
}

type TransactionStmt struct {
	Kind string `json:"kind"`
}

type VariableSetStmt struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	IsLocal bool   `json:"is_local"`
}

type DefElem struct {
	Defname string `json:"defname"`
}

type ReindexStmt struct {
	Kind     string    `json:"kind"`
	Relation *RangeVar `json:"relation"`
	Name     string    `json:"name"`
	Params   []Node    `json:"params"`
}

type VacuumStmt struct {
	Options     []Node `json:"options"`
	Rels        []Node `json:"rels"`
	IsVacuumcmd bool   `json:"is_vacuumcmd"`
}

type VacuumRelation struct {
	Relation *RangeVar `json:"relation"`
}

type ClusterStmt struct {
	Relation *RangeVar `json:"relation"`
}

type DropdbStmt struct {
	Dbname string `json:"dbname"`
}

type FuncCall struct {
	Funcname []Node `json:"funcname"`
	Args     []Node `json:"args"`
}

type TypeCast struct {
	Arg      Node     `json:"arg"`
	TypeName TypeName `json:"typeName"`
}

type NullTest struct {
	Arg          Node   `json:"arg"`
	Nulltesttype string `json:"nulltesttype"`
}

type ColumnRef struct {
	Fields []Node `json:"fields"`
}

// FuncNames returns the unqualified name of every function called anywhere
// in n ("now", "gen_random_uuid").
func (n Node) FuncNames() []string {
	if !n.Contains("FuncCall") {
		return nil
	}
	var inner any
	if json.Unmarshal(n.raw, &inner) != nil {
		return nil
	}
	tree := map[string]any{n.Type: inner}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, c := range t {
				if k == "FuncCall" {
					if fc, ok := c.(map[string]any); ok {
						if names, ok := fc["funcname"].([]any); ok && len(names) > 0 {
							if last, ok := names[len(names)-1].(map[string]any); ok {
								if s, ok := last["String"].(map[string]any); ok {
									if name, ok := s["sval"].(string); ok {
										out = append(out, name)
									}
								}
							}
						}
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range t {
				walk(c)
			}
		}
	}
	walk(tree)
	return out
}

// Option is one DefElem with its argument: REINDEX (CONCURRENTLY false),
// VACUUM (FULL off), CREATE FUNCTION ... IMMUTABLE.
type Option struct {
	Defname string `json:"defname"`
	Arg     Node   `json:"arg"`
}

// Options decodes a list of DefElem nodes.
func Options(nodes []Node) []Option { return All[Option](nodes, "DefElem") }

// OptionOn reports whether the boolean option name is in the list and on:
// PostgreSQL reads a bare option as true, and "false", "off", "0" as false.
func OptionOn(nodes []Node, name string) bool {
	for _, o := range Options(nodes) {
		if o.Defname != name {
			continue
		}
		switch o.Arg.Type {
		case "":
			return true
		case "Boolean":
			var b struct {
				Boolval bool `json:"boolval"`
			}
			o.Arg.Into(&b)
			return b.Boolval
		case "Integer":
			var i struct {
				Ival int `json:"ival"`
			}
			o.Arg.Into(&i)
			return i.Ival != 0
		case "String":
			var s String
			o.Arg.Into(&s)
			switch s.Sval {
			case "false", "off", "0", "no":
				return false
			}
			return true
		}
		return true
	}
	return false
}

// OptionString returns the String argument of option name ("" if absent).
func OptionString(nodes []Node, name string) string {
	for _, o := range Options(nodes) {
		var s String
		if o.Defname == name && o.Arg.Type == "String" && o.Arg.Into(&s) {
			return s.Sval
		}
	}
	return ""
}

// ConstString returns the value of an A_Const as text ("5s", "0"), and
// false when n is not a constant.
func ConstString(n Node) (string, bool) {
	if n.Type != "A_Const" {
		return "", false
	}
	var c struct {
		Sval *String `json:"sval"`
		Ival *struct {
			Ival int `json:"ival"`
		} `json:"ival"`
		Fval *struct {
			Fval string `json:"fval"`
		} `json:"fval"`
		Isnull bool `json:"isnull"`
	}
	if !n.Into(&c) {
		return "", false
	}
	switch {
	case c.Sval != nil:
		return c.Sval.Sval, true
	case c.Ival != nil:
		return fmt.Sprint(c.Ival.Ival), true
	case c.Fval != nil:
		return c.Fval.Fval, true
	}
	return "", false
}

// IsNull reports whether n is the constant NULL (or NULL cast to a type):
// DEFAULT NULL is no default.
func IsNull(n Node) bool {
	switch n.Type {
	case "A_Const":
		var c struct {
			Isnull bool `json:"isnull"`
		}
		return n.Into(&c) && c.Isnull
	case "TypeCast":
		var c TypeCast
		return n.Into(&c) && IsNull(c.Arg)
	}
	return false
}

type PartitionCmd struct {
	Name       RangeVar `json:"name"`
	Concurrent bool     `json:"concurrent"`
}

type AlterDomainStmt struct {
	Subtype  string `json:"subtype"`
	TypeName []Node `json:"typeName"`
	Name     string `json:"name"` // DROP CONSTRAINT's
	Def      Node   `json:"def"`
}

type CreateDomainStmt struct {
	Domainname  []Node `json:"domainname"`
	Constraints []Node `json:"constraints"`
}

type UpdateStmt struct {
	Relation   RangeVar `json:"relation"`
	TargetList []Node   `json:"targetList"`
}

// Columns names the columns the UPDATE sets.
func (u UpdateStmt) Columns() []string {
	var out []string
	for _, t := range u.TargetList {
		var rt struct {
			Name string `json:"name"`
		}
		if t.Type == "ResTarget" && t.Into(&rt) && rt.Name != "" {
			out = append(out, rt.Name)
		}
	}
	return out
}

type LockStmt struct {
	Relations []Node `json:"relations"`
	Mode      int    `json:"mode"`
}

type CommentStmt struct {
	Objtype string `json:"objtype"`
	Object  Node   `json:"object"`
}

type CreateFunctionStmt struct {
	Funcname []Node `json:"funcname"`
	Options  []Node `json:"options"`
	Replace  bool   `json:"replace"`
}

type VariableSetArgs struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Args    []Node `json:"args"`
	IsLocal bool   `json:"is_local"`
}

type CreateTrigStmt struct {
	Replace  bool     `json:"replace"`
	Relation RangeVar `json:"relation"`
}

type IndexOptions struct {
	IndexIncludingParams []Node `json:"indexIncludingParams"`
	NullsNotDistinct     bool   `json:"nulls_not_distinct"`
}

// RangeVars decodes a list of RangeVar nodes (TRUNCATE's and LOCK's tables).
func RangeVars(nodes []Node) []RangeVar { return All[RangeVar](nodes, "RangeVar") }

// Descendants returns every node of type typ anywhere in n, n included, in
// no particular order: the tables and columns a view's query reads.
func (n Node) Descendants(typ string) []Node {
	if !n.Contains(typ) {
		return nil
	}
	var out []Node
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			return
		}
		switch raw[0] {
		case '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				return
			}
			for k, v := range m {
				if k == typ {
					out = append(out, Node{Type: typ, raw: v})
				}
				walk(v)
			}
		case '[':
			var list []json.RawMessage
			if json.Unmarshal(raw, &list) != nil {
				return
			}
			for _, v := range list {
				walk(v)
			}
		}
	}
	if n.Type == typ {
		out = append(out, n)
	}
	walk(n.raw)
	return out
}

// ColumnRefNames returns the last part of every column reference in n
// ("u.email" -> "email"), with "*" for a star (u.*, *).
func (n Node) ColumnRefNames() []string {
	var out []string
	for _, c := range n.Descendants("ColumnRef") {
		var cr ColumnRef
		if !c.Into(&cr) || len(cr.Fields) == 0 {
			continue
		}
		if last := cr.Fields[len(cr.Fields)-1]; last.Type == "A_Star" {
			out = append(out, "*")
		} else if s := LastString(cr.Fields[len(cr.Fields)-1:]); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// StringConsts returns every string constant in n ('meh' in
// SET mood = 'meh').
func (n Node) StringConsts() []string {
	var out []string
	for _, c := range n.Descendants("A_Const") {
		var v struct {
			Sval *String `json:"sval"`
		}
		if c.Into(&v) && v.Sval != nil {
			out = append(out, v.Sval.Sval)
		}
	}
	return out
}
