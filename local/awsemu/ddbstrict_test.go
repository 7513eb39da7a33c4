package awsemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// tables numbers the tables the tests create: kumo keeps its state per
// process, so a table name is never used twice in one test binary.
var tables atomic.Int64

// newTable creates a table keyed by pk (S) and date (S), date being a
// reserved word, and returns its name.
func newTable(tb testing.TB, c *dynamodb.Client) string {
	tb.Helper()
	name := fmt.Sprintf("strict-%d", tables.Add(1))
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("date"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("date"), KeyType: ddbtypes.KeyTypeRange},
		},
	})
	if err != nil {
		tb.Fatalf("create table %s: %v", name, err)
	}
	return name
}

func ddbS(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

func ddbKey(pk, date string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"pk": ddbS(pk), "date": ddbS(date)}
}

func ddbVals(kv ...string) map[string]ddbtypes.AttributeValue {
	m := map[string]ddbtypes.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = ddbS(kv[i+1])
	}
	return m
}

// puts returns n transaction items putting items pk=p, date=0…n-1.
func puts(table, p string, n int) []ddbtypes.TransactWriteItem {
	items := make([]ddbtypes.TransactWriteItem, n)
	for i := range items {
		items[i].Put = &ddbtypes.Put{TableName: aws.String(table), Item: ddbKey(p, strconv.Itoa(i))}
	}
	return items
}

// ddbCall is one request against a fresh table; the table already holds
// the item pk=a, date=1 with state "new" and info {name: "old"}.
type ddbCall func(ctx context.Context, c *dynamodb.Client, table string) error

// TestDynamoDBRefusesWhatAWSRefuses sends requests DynamoDB refuses with a
// ValidationException, each beside the same request written as DynamoDB
// accepts it, to the implementation WACLOUD_TEST_AWS selects.
func TestDynamoDBRefusesWhatAWSRefuses(t *testing.T) {
	update := func(expr, cond string, names map[string]string, values map[string]ddbtypes.AttributeValue) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			in := &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: ddbKey("a", "1"),
				UpdateExpression: aws.String(expr), ExpressionAttributeNames: names, ExpressionAttributeValues: values}
			if cond != "" {
				in.ConditionExpression = aws.String(cond)
			}
			_, err := c.UpdateItem(ctx, in)
			return err
		}
	}
	put := func(cond string, names map[string]string, values map[string]ddbtypes.AttributeValue) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: ddbKey("b", "1"),
				ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values})
			return err
		}
	}
	query := func(keyCond, filter string, names map[string]string, values map[string]ddbtypes.AttributeValue) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			in := &dynamodb.QueryInput{TableName: aws.String(table), KeyConditionExpression: aws.String(keyCond),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values}
			if filter != "" {
				in.FilterExpression = aws.String(filter)
			}
			_, err := c.Query(ctx, in)
			return err
		}
	}
	scan := func(filter string, names map[string]string) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			_, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), FilterExpression: aws.String(filter),
				ExpressionAttributeNames: names, ExpressionAttributeValues: ddbVals(":s", "new")})
			return err
		}
	}
	get := func(projection string, names map[string]string) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: ddbKey("a", "1"),
				ProjectionExpression: aws.String(projection), ExpressionAttributeNames: names})
			return err
		}
	}
	batchGet := func(projection string, names map[string]string) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			_, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{
				table: {Keys: []map[string]ddbtypes.AttributeValue{ddbKey("a", "1")}, ProjectionExpression: aws.String(projection), ExpressionAttributeNames: names},
			}})
			return err
		}
	}
	transactGet := func(projection string, names map[string]string) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []ddbtypes.TransactGetItem{
				{Get: &ddbtypes.Get{TableName: aws.String(table), Key: ddbKey("a", "1"), ProjectionExpression: aws.String(projection), ExpressionAttributeNames: names}},
			}})
			return err
		}
	}
	transact := func(items func(table string) []ddbtypes.TransactWriteItem) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items(table)})
			return err
		}
	}
	txUpdate := func(expr string, names map[string]string, values map[string]ddbtypes.AttributeValue) ddbCall {
		return transact(func(table string) []ddbtypes.TransactWriteItem {
			return []ddbtypes.TransactWriteItem{
				{Update: &ddbtypes.Update{TableName: aws.String(table), Key: ddbKey("a", "1"), UpdateExpression: aws.String(expr),
					ExpressionAttributeNames: names, ExpressionAttributeValues: values}},
				{Put: &ddbtypes.Put{TableName: aws.String(table), Item: ddbKey("c", "1")}},
			}
		})
	}
	transactGets := func(n int) ddbCall {
		return func(ctx context.Context, c *dynamodb.Client, table string) error {
			items := make([]ddbtypes.TransactGetItem, n)
			for i := range items {
				items[i].Get = &ddbtypes.Get{TableName: aws.String(table), Key: ddbKey("many", strconv.Itoa(i))}
			}
			_, err := c.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: items})
			return err
		}
	}
	state := map[string]string{"#s": "state"}
	// moto names what moto 5.2 does instead of what AWS does: it
	// "accepts" a request AWS refuses, fails with a "500" (a KeyError in
	// moto) or "refuses" a request AWS accepts. docs/local.md lists these
	// gaps; a case fails when moto starts to agree with AWS.
	tests := []struct {
		name string
		call ddbCall
		want string // part of the ValidationException's message; "" when DynamoDB accepts the request
		moto string
	}{
		{"update expression with a reserved word", update("SET state = :s", "", nil, ddbVals(":s", "sent")), "reserved keyword: state", ""},
		{"update expression with a placeholder", update("SET #s = :s", "", state, ddbVals(":s", "sent")), "", ""},
		{"nested path with a reserved word", update("SET info.name = :n", "", nil, ddbVals(":n", "x")), "reserved keyword: name", ""},
		{"nested path with a placeholder", update("SET info.#n = :n", "", map[string]string{"#n": "name"}, ddbVals(":n", "x")), "", ""},
		{"REMOVE of a reserved word", update("REMOVE comment", "", nil, nil), "reserved keyword: comment", ""},
		{"REMOVE with a placeholder", update("REMOVE #c", "", map[string]string{"#c": "comment"}, nil), "", ""},
		{"condition expression with a reserved word", update("SET n = :n", "state = :s", nil, ddbVals(":n", "1", ":s", "new")), "reserved keyword: state", ""},
		{"condition expression with a placeholder", update("SET n = :n", "#s = :s", state, ddbVals(":n", "1", ":s", "new")), "", ""},
		{"put condition with a reserved word", put("attribute_not_exists(pk) OR state = :s", nil, ddbVals(":s", "x")), "reserved keyword: state", ""},
		{"put condition with a placeholder", put("attribute_not_exists(pk) OR #s = :s", state, ddbVals(":s", "x")), "", ""},
		{"key condition with a reserved word", query("pk = :p AND date > :d", "", nil, ddbVals(":p", "a", ":d", "0")), "reserved keyword: date", "accepts"},
		{"key condition with a placeholder", query("pk = :p AND #d > :d", "", map[string]string{"#d": "date"}, ddbVals(":p", "a", ":d", "0")), "", ""},
		{"filter expression with a reserved word", scan("state = :s", nil), "reserved keyword: state", ""},
		{"filter expression with a placeholder", scan("#s = :s", state), "", ""},
		{"query filter with a reserved word", query("pk = :p", "state = :s", nil, ddbVals(":p", "a", ":s", "new")), "reserved keyword: state", ""},
		{"query filter with a placeholder", query("pk = :p", "#s = :s", state, ddbVals(":p", "a", ":s", "new")), "", ""},
		{"projection with a reserved word", get("pk, name", nil), "reserved keyword: name", ""},
		{"projection with a placeholder", get("pk, #n", map[string]string{"#n": "name"}), "", ""},
		{"batch get projection with a reserved word", batchGet("pk, data", nil), "reserved keyword: data", ""},
		{"batch get projection with a placeholder", batchGet("pk, #d", map[string]string{"#d": "data"}), "", ""},
		{"transact get projection with a reserved word", transactGet("pk, size", nil), "reserved keyword: size", "accepts"},
		{"transact get projection with a placeholder", transactGet("pk, #z", map[string]string{"#z": "size"}), "", ""},
		{"transaction item with a reserved word", txUpdate("SET state = :s", nil, ddbVals(":s", "sent")), "reserved keyword: state", ""},
		{"transaction item with a placeholder", txUpdate("SET #s = :s", state, ddbVals(":s", "sent")), "", ""},
		{"unused attribute name", update("SET n = :n", "", state, ddbVals(":n", "1")), "Value provided in ExpressionAttributeNames unused in expressions: keys: {#s}", ""},
		{"unused attribute value", put("attribute_not_exists(pk)", nil, ddbVals(":x", "1")), "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}", "accepts"},
		{"unused value in a transaction item", txUpdate("SET n = :n", nil, ddbVals(":n", "1", ":x", "2")), "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}", "accepts"},
		{"every value used", put("attribute_not_exists(pk) OR n = :x", nil, ddbVals(":x", "1")), "", ""},
		{"undefined attribute name", update("SET #s = :s", "", nil, ddbVals(":s", "sent")), "An expression attribute name used in the document path is not defined; attribute name: #s", "500"},
		{"undefined attribute value", update("SET n = :n, m = :m", "", nil, ddbVals(":m", "1")), "An expression attribute value used in expression is not defined; attribute value: :n", ""},
		{"undefined value in a condition", put("attribute_not_exists(pk) OR n = :x", nil, ddbVals(":y", "1")), "An expression attribute value used in expression is not defined; attribute value: :x", "500"},
		{"two operations on one item", transact(func(table string) []ddbtypes.TransactWriteItem {
			return []ddbtypes.TransactWriteItem{
				{Put: &ddbtypes.Put{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"pk": ddbS("a"), "date": ddbS("1"), "n": ddbS("2")}}},
				{Update: &ddbtypes.Update{TableName: aws.String(table), Key: ddbKey("a", "1"), UpdateExpression: aws.String("SET n = :n"), ExpressionAttributeValues: ddbVals(":n", "3")}},
			}
		}), "Transaction request cannot include multiple operations on one item", ""},
		{"two puts of one item", transact(func(table string) []ddbtypes.TransactWriteItem {
			return []ddbtypes.TransactWriteItem{
				{Put: &ddbtypes.Put{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"pk": ddbS("d"), "date": ddbS("1"), "n": ddbS("1")}}},
				{Put: &ddbtypes.Put{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{"pk": ddbS("d"), "date": ddbS("1"), "n": ddbS("2")}}},
			}
		}), "Transaction request cannot include multiple operations on one item", ""},
		{"operations on two items", transact(func(table string) []ddbtypes.TransactWriteItem {
			return []ddbtypes.TransactWriteItem{
				{Put: &ddbtypes.Put{TableName: aws.String(table), Item: ddbKey("a", "2")}},
				{Update: &ddbtypes.Update{TableName: aws.String(table), Key: ddbKey("a", "1"), UpdateExpression: aws.String("SET n = :n"), ExpressionAttributeValues: ddbVals(":n", "3")}},
			}
		}), "", ""},
		{"101 transaction items", transact(func(table string) []ddbtypes.TransactWriteItem { return puts(table, "many", 101) }),
			"at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100", ""},
		{"100 transaction items", transact(func(table string) []ddbtypes.TransactWriteItem { return puts(table, "many", 100) }), "", ""},
		{"101 transaction items to read", transactGets(101),
			"at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to", ""}, // moto says 25
		{"100 transaction items to read", transactGets(100), "", "refuses"},
	}
	emu := StartTest(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(emu.Config())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := newTable(t, c)
			if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
				Item: map[string]ddbtypes.AttributeValue{"pk": ddbS("a"), "date": ddbS("1"), "state": ddbS("new"),
					"info": &ddbtypes.AttributeValueMemberM{Value: ddbVals("name", "old")}}}); err != nil {
				t.Fatal(err)
			}
			err := tt.call(ctx, c, table)
			if emu.Backend == Moto && tt.moto != "" {
				checkGap(t, Moto, tt.moto, err)
				return
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%s: %v, want success", emu.Backend, err)
				}
				return
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
				t.Fatalf("%s: error %v, want a ValidationException", emu.Backend, err)
			}
			if !strings.Contains(apiErr.ErrorMessage(), tt.want) {
				t.Errorf("%s: message %q, want it to contain %q", emu.Backend, apiErr.ErrorMessage(), tt.want)
			}
		})
	}
}

// checkGap checks that backend still answers a request as docs/local.md
// says it does where it differs from AWS: it "accepts" a request AWS
// refuses, "refuses" one AWS accepts (with a ValidationException or
// another API error), or fails with a "500" (an internal error).
func checkGap(t *testing.T, backend Backend, gap string, err error) {
	t.Helper()
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	switch gap {
	case "accepts":
		if err != nil {
			t.Fatalf("%s now refuses the request as AWS does (%v): remove the gap here and in docs/local.md", backend, err)
		}
	case "refuses":
		if !errors.As(err, &apiErr) {
			t.Fatalf("%s answers %v, not the refusal docs/local.md describes", backend, err)
		}
	case "500":
		if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != 500 {
			t.Fatalf("%s answers %v, not the 500 docs/local.md describes", backend, err)
		}
	default:
		t.Fatalf("unknown gap %q", gap)
	}
	t.Logf("%s %s where AWS answers otherwise (docs/local.md)", backend, gap)
}

// TestExpressionCheck pins how the front reads expressions without a
// backend: keywords, functions and list indexes are not attribute names;
// a clause word where an attribute belongs is one.
func TestExpressionCheck(t *testing.T) {
	names := map[string]string{"#s": "state", "#n": "name"}
	values := map[string]json.RawMessage{":a": nil, ":b": nil}
	tests := []struct {
		name string
		kind exprKind
		expr string
		want string // part of the message; "" when DynamoDB accepts the expression
	}{
		{"clauses", updateExpr, "SET a = :a, #s = if_not_exists(#s, :b) REMOVE c ADD d :a DELETE e :b", ""},
		{"lower-case clauses", updateExpr, "set a = a + :a remove b", ""},
		{"clause word as an attribute", updateExpr, "SET add = :a", "reserved keyword: add"},
		{"clause word after REMOVE", updateExpr, "REMOVE delete", "reserved keyword: delete"},
		{"list append and index", updateExpr, "SET l = list_append(l, :a), m[0].x = :b", ""},
		{"BETWEEN and AND", keyConditionExpr, "pk = :a AND sk BETWEEN :a AND :b", ""},
		{"functions", conditionExpr, "attribute_not_exists(pk) OR (begins_with(#n, :a) AND size(l) > :b)", ""},
		{"IN and NOT", filterExpr, "NOT (x IN (:a, :b)) or y <> :a", ""},
		{"reserved word in a function", conditionExpr, "attribute_exists(status)", "reserved keyword: status"},
		{"reserved word deep in a path", projectionExpr, "a.b[1].data", "reserved keyword: data"},
		{"projection of placeholders", projectionExpr, "#s, #n.given, x", ""},
		{"undefined name", projectionExpr, "#missing", "attribute name: #missing"},
		{"undefined value", conditionExpr, "x = :c", "attribute value: :c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.kind.check(tt.expr, names, values, map[string]bool{}, map[string]bool{})
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("%s %q: %q, want %q", tt.kind, tt.expr, got, tt.want)
			}
			if tt.want != "" && !strings.HasPrefix(got, "Invalid "+string(tt.kind)+": ") {
				t.Errorf("%s %q: %q, want it to start with Invalid %s", tt.kind, tt.expr, got, tt.kind)
			}
		})
	}
}
