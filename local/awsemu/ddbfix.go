package awsemu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// ddbFix rewrites the expressions of each DynamoDB request before kumo
// (v0.33) reads them, so that two of kumo's parsing bugs, which DynamoDB
// does not have, never reach it:
//
//   - kumo substitutes the #name placeholders into an expression as plain
//     text, one after the other in map order, so a placeholder that is a
//     prefix of another (#1 of #10, as the SDK's expression builder numbers
//     them from eleven names on; #st of #status) corrupts it. The front
//     renames every name placeholder of a request, in its expressions and
//     in ExpressionAttributeNames alike, to one of a single width (#n00,
//     #n01…), none a prefix of another. kumo looks :value placeholders up
//     whole, so they are left as they are.
//   - kumo finds an update clause (SET, REMOVE, ADD, DELETE) only after a
//     space, and the expression builder ends each clause with a newline:
//     kumo read "REMOVE #3\nSET …" as one REMOVE and dropped the SET. The
//     front turns every run of whitespace into one space: expressions have
//     no string literals, so no whitespace in them carries meaning.
//
// A transaction item, and a BatchGetItem table, is rewritten on its own, as
// it has its own placeholders. ddbFix sits behind ddbStrict, which checks
// each request as the client sent it. A request it does not understand
// goes to kumo untouched.
type ddbFix struct {
	next http.Handler
}

func fixDynamoDB(next http.Handler) http.Handler {
	return &ddbFix{next: next}
}

func (f *ddbFix) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	action, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), ddbTargetPrefix)
	if !ok {
		f.next.ServeHTTP(w, r)
		return
	}
	var rewrite func(map[string]json.RawMessage) bool
	switch action {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan":
		rewrite = rewriteRequest
	case "TransactWriteItems", "TransactGetItems":
		rewrite = rewriteTransactItems
	case "BatchGetItem":
		rewrite = rewriteBatchGet
	default:
		f.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	var in map[string]json.RawMessage
	if json.Unmarshal(body, &in) == nil && rewrite(in) {
		if out, err := json.Marshal(in); err == nil {
			body = out
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	f.next.ServeHTTP(w, r)
}

// rewriteTransactItems rewrites each operation of a transaction; it
// reports whether any changed.
func rewriteTransactItems(in map[string]json.RawMessage) bool {
	var items []map[string]map[string]json.RawMessage
	if json.Unmarshal(in["TransactItems"], &items) != nil {
		return false
	}
	changed := false
	for _, item := range items {
		for _, op := range item {
			if op != nil && rewriteRequest(op) {
				changed = true
			}
		}
	}
	return changed && remarshal(in, "TransactItems", items)
}

// rewriteBatchGet rewrites the keys-and-attributes of each table.
func rewriteBatchGet(in map[string]json.RawMessage) bool {
	var tables map[string]map[string]json.RawMessage
	if json.Unmarshal(in["RequestItems"], &tables) != nil {
		return false
	}
	changed := false
	for _, q := range tables {
		if q != nil && rewriteRequest(q) {
			changed = true
		}
	}
	return changed && remarshal(in, "RequestItems", tables)
}

func remarshal(in map[string]json.RawMessage, field string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	in[field] = b
	return true
}

// exprFields are the request fields that hold an expression.
var exprFields = []string{
	"UpdateExpression", "ConditionExpression", "KeyConditionExpression",
	"FilterExpression", "ProjectionExpression",
}

// rewriteRequest rewrites the expressions of one request (or transaction
// item) and renames its name placeholders; it reports whether anything
// changed.
func rewriteRequest(q map[string]json.RawMessage) bool {
	var names map[string]string
	if raw, ok := q["ExpressionAttributeNames"]; ok && json.Unmarshal(raw, &names) != nil {
		return false
	}
	rename := fixedWidthNames(names)
	changed := false
	for _, field := range exprFields {
		raw, ok := q[field]
		var expr string
		if !ok || string(raw) == "null" || json.Unmarshal(raw, &expr) != nil {
			continue
		}
		if out := rewriteExpr(expr, rename); out != expr {
			q[field], _ = json.Marshal(out)
			changed = true
		}
	}
	if len(rename) > 0 {
		renamed := make(map[string]string, len(names))
		for ph, name := range names {
			renamed[rename[ph]] = name
		}
		q["ExpressionAttributeNames"], _ = json.Marshal(renamed)
		changed = true
	}
	return changed
}

// fixedWidthNames maps each name placeholder to #n followed by its index
// among the sorted placeholders, all indexes written with as many digits as
// the largest.
func fixedWidthNames(names map[string]string) map[string]string {
	if len(names) == 0 {
		return nil
	}
	width := len(strconv.Itoa(len(names) - 1))
	rename := make(map[string]string, len(names))
	for i, ph := range keysOf(names) {
		rename[ph] = fmt.Sprintf("#n%0*d", width, i)
	}
	return rename
}

// rewriteExpr renames the name placeholders of expr that rename maps and
// turns each run of whitespace into one space, dropping it at either end.
func rewriteExpr(expr string, rename map[string]string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(expr); {
		c := expr[i]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			space = true
			i++
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if c == '#' {
			j := i + 1
			for j < len(expr) && isNameChar(expr[j]) {
				j++
			}
			if to, ok := rename[expr[i:j]]; ok {
				b.WriteString(to)
				i = j
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}
