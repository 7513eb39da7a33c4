package ddbexpr_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/ddbexpr"
)

func TestBare(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"reserved word in SET", "SET external = :false", []string{"external"}},
		{"all through placeholders", "SET #0 = :0, #1 = if_not_exists(#1, :1)", nil},
		{"builder condition", "(attribute_not_exists (#0)) OR ((#1 = :0) AND ((attribute_not_exists (#2)) OR (#2 = :1)))", nil},
		{"function names are not attributes", "attribute_exists(pk) AND begins_with(#a, :p) AND size(#l) > :n", []string{"pk"}},
		{"keywords in any case", "set #a = :a remove #b add #c :c delete #d :d", nil},
		{"condition keywords", "#a BETWEEN :lo AND :hi OR NOT #b IN (:x, :y)", nil},
		{"arithmetic and if_not_exists", "SET tat = tat + :span, expires_at = if_not_exists(expires_at, :e)", []string{"tat", "expires_at"}},
		{"each name once, in order", "claim_id = :c AND #s = :sending AND claim_id <> :d", []string{"claim_id"}},
		{"nested paths and list indexes", "SET #m.inner = :v, #l[3] = :w, outer.#k = :x", []string{"inner", "outer"}},
		{"function name used as an attribute", "SET size = :s", []string{"size"}},
		{"several clauses on several lines", "REMOVE lease_until\nSET #0 = :0", []string{"lease_until"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ddbexpr.Bare(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("Bare(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		name, expr          string
		wantNames, wantVals []string
	}{
		{"update", "SET #0 = :0, #1 = if_not_exists(#1, :1), #10 = :10", []string{"#0", "#1", "#10"}, []string{":0", ":1", ":10"}},
		{"hand-written", "#st = :old AND #a01 < :r", []string{"#st", "#a01"}, []string{":old", ":r"}},
		{"none", "attribute_not_exists(pk)", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, vals := ddbexpr.Placeholders(tt.expr)
			if !slices.Equal(names, tt.wantNames) || !slices.Equal(vals, tt.wantVals) {
				t.Errorf("Placeholders(%q) = %q, %q, want %q, %q", tt.expr, names, vals, tt.wantNames, tt.wantVals)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	v := &ddbtypes.AttributeValueMemberS{Value: "x"}
	tests := []struct {
		name string
		in   any
		want []string // substrings, one per problem, in order
	}{
		{"clean update", &dynamodb.UpdateItemInput{
			UpdateExpression:          aws.String("SET #0 = :0"),
			ConditionExpression:       aws.String("attribute_exists (#1)"),
			ExpressionAttributeNames:  map[string]string{"#0": "external", "#1": "pk"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":0": v},
		}, nil},
		{"bare reserved word", &dynamodb.UpdateItemInput{
			UpdateExpression:          aws.String("SET external = :0"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":0": v},
		}, []string{`UpdateItem: bare attribute name "external"`}},
		{"unused and undefined placeholders", &dynamodb.PutItemInput{
			ConditionExpression:       aws.String("#a = :a"),
			ExpressionAttributeNames:  map[string]string{"#a": "a", "#b": "b"},
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":z": v},
		}, []string{"name placeholder #b (b) unused", "value placeholder :a undefined", "value placeholder :z unused"}},
		{"names without expressions", &dynamodb.GetItemInput{
			ExpressionAttributeNames: map[string]string{"#a": "a"},
		}, []string{"GetItem: name placeholder #a (a) unused"}},
		{"each transaction item on its own", &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{ConditionExpression: aws.String("attribute_not_exists (#0)"), ExpressionAttributeNames: map[string]string{"#0": "pk"}}},
			{Update: &ddbtypes.Update{
				UpdateExpression: aws.String("SET #0 = :0"), ConditionExpression: aws.String("#1 = :1"),
				ExpressionAttributeNames:  map[string]string{"#0": "a", "#1": "b"},
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":0": v},
			}},
		}}, []string{"TransactWriteItems[1].Update: value placeholder :1 undefined"}},
		{"scan filter", &dynamodb.ScanInput{
			FilterExpression:          aws.String("begins_with(pk, :p)"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":p": v},
		}, []string{`Scan: bare attribute name "pk"`}},
		{"unknown input", "SET a = :a", []string{"input type string not checked"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ddbexpr.Problems(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("Problems(%s) = %q, want %d problems like %q", tt.name, got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func ExampleBare() {
	fmt.Println(ddbexpr.Bare("SET external = :false, #0 = if_not_exists(#0, :0)"))
	// Output: [external]
}

// TestRecorder: the recorder keeps every request, answers a read with its
// item, refuses writes when told to, and reports every kept request's
// problems.
func TestRecorder(t *testing.T) {
	ctx := context.Background()
	item := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "k"}}
	r := &ddbexpr.Recorder{Item: item, Refuse: true}
	out, err := r.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t")})
	if err != nil || out.Item["pk"] == nil {
		t.Fatalf("read: %v, %v", out, err)
	}
	var cf *ddbtypes.ConditionalCheckFailedException
	if _, err := r.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("t"), UpdateExpression: aws.String("SET status = :s"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":s": &ddbtypes.AttributeValueMemberS{Value: "x"}}}); !errors.As(err, &cf) {
		t.Errorf("refused update: %v", err)
	}
	var tc *ddbtypes.TransactionCanceledException
	if _, err := r.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{{Put: &ddbtypes.Put{TableName: aws.String("t")}}}}); !errors.As(err, &tc) || len(tc.CancellationReasons) != 1 {
		t.Errorf("refused transaction: %v", err)
	}
	if n := len(r.Requests()); n != 3 {
		t.Errorf("%d requests kept, want 3", n)
	}
	if p := r.Problems(); len(p) != 1 || !strings.Contains(p[0], `"status"`) {
		t.Errorf("problems %q, want the bare status", p)
	}
}
