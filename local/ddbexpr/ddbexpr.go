// Package ddbexpr checks DynamoDB expressions the way DynamoDB reads them,
// for tests: an attribute name written bare may be a reserved word
// (EXTERNAL, STATUS, STATE, NAME and hundreds more), which DynamoDB
// refuses with a ValidationException, and a request whose
// ExpressionAttributeNames or ExpressionAttributeValues hold a placeholder
// that none of its expressions uses is refused too. The embedded emulator
// checks neither, so a test that records the requests a store builds can
// catch both with Problems.
//
// It exists for tests; no function imports it.
package ddbexpr

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// functions are the function names of the expression grammar.
var functions = map[string]bool{
	"attribute_exists": true, "attribute_not_exists": true, "attribute_type": true,
	"begins_with": true, "contains": true, "size": true,
	"if_not_exists": true, "list_append": true,
}

// keywords are the keywords of the expression grammar (any case).
var keywords = map[string]bool{
	"SET": true, "REMOVE": true, "ADD": true, "DELETE": true,
	"AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true,
}

type token struct {
	kind byte // 'i' identifier, '#' name placeholder, ':' value placeholder, 'n' number, 'p' punctuation
	text string
}

func tokens(expr string) []token {
	var out []token
	word := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(expr) && word(expr[j]) {
				j++
			}
			out = append(out, token{c, expr[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(expr) && expr[j] >= '0' && expr[j] <= '9' {
				j++
			}
			out = append(out, token{'n', expr[i:j]})
			i = j
		case word(c):
			j := i
			for j < len(expr) && word(expr[j]) {
				j++
			}
			out = append(out, token{'i', expr[i:j]})
			i = j
		default:
			out = append(out, token{'p', expr[i : i+1]})
			i++
		}
	}
	return out
}

// Bare returns the attribute names expr writes without a placeholder: every
// identifier that is neither a function name (followed by its parenthesis),
// a keyword of the expression grammar, nor a #placeholder, in order of
// first appearance. Nested names (a.b) count: DynamoDB checks each part.
func Bare(expr string) []string {
	toks := tokens(expr)
	var out []string
	for i, t := range toks {
		if t.kind != 'i' {
			continue
		}
		if keywords[strings.ToUpper(t.text)] {
			continue
		}
		if functions[t.text] && next(toks, i) == "(" {
			continue
		}
		if !slices.Contains(out, t.text) {
			out = append(out, t.text)
		}
	}
	return out
}

// next is the text of the token after toks[i], or "".
func next(toks []token, i int) string {
	if i+1 < len(toks) {
		return toks[i+1].text
	}
	return ""
}

// Placeholders returns the #name and :value placeholders expr uses, each
// once, in order of first appearance.
func Placeholders(expr string) (names, values []string) {
	for _, t := range tokens(expr) {
		switch {
		case t.kind == '#' && !slices.Contains(names, t.text):
			names = append(names, t.text)
		case t.kind == ':' && !slices.Contains(values, t.text):
			values = append(values, t.text)
		}
	}
	return names, values
}

// Check returns what DynamoDB would refuse in the expressions of one
// request (or of one item of a transaction), which carry names and values:
// attribute names written bare, placeholders used but not defined, and
// placeholders defined but used by no expression. Nil expressions are
// skipped. The result is sorted; empty means none.
func Check(exprs []*string, names map[string]string, values map[string]ddbtypes.AttributeValue) []string {
	var problems []string
	usedN, usedV := map[string]bool{}, map[string]bool{}
	for _, e := range exprs {
		if e == nil {
			continue
		}
		for _, b := range Bare(*e) {
			problems = append(problems, fmt.Sprintf("bare attribute name %q in %q", b, *e))
		}
		ns, vs := Placeholders(*e)
		for _, n := range ns {
			usedN[n] = true
			if _, ok := names[n]; !ok {
				problems = append(problems, fmt.Sprintf("name placeholder %s undefined in %q", n, *e))
			}
		}
		for _, v := range vs {
			usedV[v] = true
			if _, ok := values[v]; !ok {
				problems = append(problems, fmt.Sprintf("value placeholder %s undefined in %q", v, *e))
			}
		}
	}
	for n := range names {
		if !usedN[n] {
			problems = append(problems, fmt.Sprintf("name placeholder %s (%s) unused", n, names[n]))
		}
	}
	for v := range values {
		if !usedV[v] {
			problems = append(problems, fmt.Sprintf("value placeholder %s unused", v))
		}
	}
	sort.Strings(problems)
	return problems
}

// Problems is Check for each request of an aws-sdk-go-v2 DynamoDB input
// (GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, or each item of
// a TransactWriteItems), each problem prefixed with the request's name.
// Input types it does not know are reported as a problem.
func Problems(in any) []string {
	var out []string
	add := func(what string, exprs []*string, names map[string]string, values map[string]ddbtypes.AttributeValue) {
		for _, p := range Check(exprs, names, values) {
			out = append(out, what+": "+p)
		}
	}
	switch in := in.(type) {
	case *dynamodb.GetItemInput:
		add("GetItem", []*string{in.ProjectionExpression}, in.ExpressionAttributeNames, nil)
	case *dynamodb.PutItemInput:
		add("PutItem", []*string{in.ConditionExpression}, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	case *dynamodb.UpdateItemInput:
		add("UpdateItem", []*string{in.UpdateExpression, in.ConditionExpression}, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	case *dynamodb.DeleteItemInput:
		add("DeleteItem", []*string{in.ConditionExpression}, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	case *dynamodb.QueryInput:
		add("Query", []*string{in.KeyConditionExpression, in.FilterExpression, in.ProjectionExpression}, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	case *dynamodb.ScanInput:
		add("Scan", []*string{in.FilterExpression, in.ProjectionExpression}, in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	case *dynamodb.TransactWriteItemsInput:
		for i, it := range in.TransactItems {
			what := fmt.Sprintf("TransactWriteItems[%d]", i)
			switch {
			case it.Put != nil:
				add(what+".Put", []*string{it.Put.ConditionExpression}, it.Put.ExpressionAttributeNames, it.Put.ExpressionAttributeValues)
			case it.Update != nil:
				add(what+".Update", []*string{it.Update.UpdateExpression, it.Update.ConditionExpression}, it.Update.ExpressionAttributeNames, it.Update.ExpressionAttributeValues)
			case it.Delete != nil:
				add(what+".Delete", []*string{it.Delete.ConditionExpression}, it.Delete.ExpressionAttributeNames, it.Delete.ExpressionAttributeValues)
			case it.ConditionCheck != nil:
				add(what+".ConditionCheck", []*string{it.ConditionCheck.ConditionExpression}, it.ConditionCheck.ExpressionAttributeNames, it.ConditionCheck.ExpressionAttributeValues)
			}
		}
	default:
		out = append(out, fmt.Sprintf("ddbexpr: input type %T not checked", in))
	}
	return out
}
