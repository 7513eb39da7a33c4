package awsemu

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestBuilderExpressions writes items with expressions as the SDK's
// expression builder makes them, and reads them back: forty names
// (#0…#39, #1 a prefix of #10…#19), and an update of several clauses, one
// per line. Without the kumo front's rewrite (ddbfix.go), kumo writes
// attributes under corrupted names in nearly every run (#1 replaced inside
// #10…) and drops every clause but the first line's.
func TestBuilderExpressions(t *testing.T) {
	emu := StartTest(t)
	ctx := context.Background()
	c := dynamodb.NewFromConfig(emu.Config())
	table := newTable(t, c)

	const attrs = 40
	var many expression.UpdateBuilder
	for i := range attrs {
		many = many.Set(expression.Name("attr"+strconv.Itoa(i)), expression.Value("v"+strconv.Itoa(i)))
	}
	manyExpr, err := expression.NewBuilder().WithUpdate(many).
		WithCondition(expression.Name("attr1").AttributeNotExists()).Build()
	if err != nil {
		t.Fatal(err)
	}
	checkMany := func(t *testing.T, item map[string]ddbtypes.AttributeValue) {
		t.Helper()
		for i := range attrs {
			name := "attr" + strconv.Itoa(i)
			if got, want := attrS(item, name), "v"+strconv.Itoa(i); got != want {
				t.Errorf("%s: %s = %q, want %q (item %v)", emu.Backend, name, got, want, item)
			}
		}
		if got, want := len(item), attrs+2; got != want {
			t.Errorf("%s: %d attributes, want %d (the key and %d written): %v", emu.Backend, got, want, attrs, item)
		}
	}
	get := func(t *testing.T, pk string) map[string]ddbtypes.AttributeValue {
		t.Helper()
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: ddbKey(pk, "1"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}

	t.Run("forty names in UpdateItem", func(t *testing.T) {
		if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: ddbKey("many", "1"),
			UpdateExpression:          manyExpr.Update(),
			ConditionExpression:       manyExpr.Condition(),
			ExpressionAttributeNames:  manyExpr.Names(),
			ExpressionAttributeValues: manyExpr.Values(),
		}); err != nil {
			t.Fatalf("%s: %v", emu.Backend, err)
		}
		checkMany(t, get(t, "many"))
	})

	t.Run("forty names in a transaction", func(t *testing.T) {
		if _, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{TableName: aws.String(table), Item: ddbKey("other", "1")}},
			{Update: &ddbtypes.Update{
				TableName: aws.String(table), Key: ddbKey("many-tx", "1"),
				UpdateExpression:          manyExpr.Update(),
				ConditionExpression:       manyExpr.Condition(),
				ExpressionAttributeNames:  manyExpr.Names(),
				ExpressionAttributeValues: manyExpr.Values(),
			}},
		}}); err != nil {
			t.Fatalf("%s: %v", emu.Backend, err)
		}
		checkMany(t, get(t, "many-tx"))
	})

	t.Run("clauses on separate lines", func(t *testing.T) {
		item := ddbKey("lines", "1")
		item["status"] = ddbS("busy")
		item["lease_until"] = &ddbtypes.AttributeValueMemberN{Value: "100"}
		item["tags"] = &ddbtypes.AttributeValueMemberSS{Value: []string{"a", "b"}}
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		e, err := expression.NewBuilder().WithUpdate(
			expression.Set(expression.Name("status"), expression.Value("done")).
				Set(expression.Name("done_at"), expression.Value(200)).
				Remove(expression.Name("lease_until")).
				Add(expression.Name("count"), expression.Value(1)).
				Delete(expression.Name("tags"), expression.Value(&ddbtypes.AttributeValueMemberSS{Value: []string{"a"}}))).
			Build()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: ddbKey("lines", "1"),
			UpdateExpression:          e.Update(),
			ExpressionAttributeNames:  e.Names(),
			ExpressionAttributeValues: e.Values(),
		}); err != nil {
			t.Fatalf("%s: %v", emu.Backend, err)
		}
		got := get(t, "lines")
		if s := attrS(got, "status"); s != "done" {
			t.Errorf("%s: status = %q, want done (SET applied): %v", emu.Backend, s, got)
		}
		if n, ok := got["done_at"].(*ddbtypes.AttributeValueMemberN); !ok || n.Value != "200" {
			t.Errorf("%s: done_at = %v, want 200 (SET applied): %v", emu.Backend, got["done_at"], got)
		}
		if _, ok := got["lease_until"]; ok {
			t.Errorf("%s: lease_until still there, want it removed (REMOVE applied): %v", emu.Backend, got)
		}
		if n, ok := got["count"].(*ddbtypes.AttributeValueMemberN); !ok || n.Value != "1" {
			t.Errorf("%s: count = %v, want 1 (ADD applied): %v", emu.Backend, got["count"], got)
		}
		if ss, ok := got["tags"].(*ddbtypes.AttributeValueMemberSS); !ok || len(ss.Value) != 1 || ss.Value[0] != "b" {
			t.Errorf("%s: tags = %v, want [b] (DELETE applied): %v", emu.Backend, got["tags"], got)
		}
	})
}

func TestRewriteExpr(t *testing.T) {
	rename := fixedWidthNames(map[string]string{"#1": "a", "#10": "b", "#st": "c", "#status": "d"})
	tests := []struct {
		in, want string
	}{
		{"SET #1 = :1, #10 = :10", "SET #n0 = :1, #n1 = :10"},
		{"REMOVE #st\nSET #status = :v\n", "REMOVE #n2 SET #n3 = :v"},
		{"(#1 = :0)\tAND\r\n (attribute_exists (#st))", "(#n0 = :0) AND (attribute_exists (#n2))"},
		{"#1.#10[2], #other", "#n0.#n1[2], #other"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := rewriteExpr(tt.in, rename); got != tt.want {
			t.Errorf("rewriteExpr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	rename = fixedWidthNames(map[string]string{"#0": "a", "#1": "b", "#10": "c", "#11": "d", "#2": "e",
		"#3": "f", "#4": "g", "#5": "h", "#6": "i", "#7": "j", "#8": "k"})
	for ph, to := range rename {
		for other, to2 := range rename {
			if ph != other && len(to) != len(to2) {
				t.Errorf("%s -> %s and %s -> %s: want one width", ph, to, other, to2)
			}
		}
	}
}
