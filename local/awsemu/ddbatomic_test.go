package awsemu

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestConditionalUpdateIsAtomic races writers on one item: each adds one
// to n provided n is still 0. DynamoDB evaluates the condition and applies
// the update of one write as a single step per item, so in every round
// exactly one writer wins and n ends at 1. The throttle and the job claims
// count on this.
//
// moto_server (moto 5.2.1) does not on its own: its UpdateItem reads the
// item, evaluates the condition and writes the update with no lock, on
// concurrent threads, so two writers could both pass. The front
// (ddbserial.go) lets one DynamoDB write reach moto at a time; this test
// holds it to DynamoDB's behaviour on both implementations.
func TestConditionalUpdateIsAtomic(t *testing.T) {
	const rounds, writers, pad = 15, 8, 40
	emu := StartTest(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(emu.Config())
	table := fmt.Sprintf("atomic-test-r%d", runs.Add(1))
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	n := expression.Name("n")
	update := expression.Set(n, n.Plus(expression.Value(1)))
	// More attributes to write make moto take longer between its check
	// and its write, so the race shows in fewer rounds; DynamoDB's answer
	// does not depend on them.
	for i := range pad {
		update = update.Set(expression.Name("pad"+strconv.Itoa(i)), expression.Value(i))
	}
	e, err := expression.NewBuilder().WithUpdate(update).WithCondition(n.Equal(expression.Value(0))).Build()
	if err != nil {
		t.Fatal(err)
	}
	var broken []string // rounds that let more than one writer win
	for r := range rounds {
		key := map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "race#" + strconv.Itoa(r)}}
		item := map[string]ddbtypes.AttributeValue{"pk": key["pk"], "n": &ddbtypes.AttributeValueMemberN{Value: "0"}}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			wins   int
			other  error
			starts = make(chan struct{})
		)
		for range writers {
			wg.Go(func() {
				<-starts
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String(table), Key: key,
					UpdateExpression:          e.Update(),
					ConditionExpression:       e.Condition(),
					ExpressionAttributeNames:  e.Names(),
					ExpressionAttributeValues: e.Values(),
				})
				var cf *ddbtypes.ConditionalCheckFailedException
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case !errors.As(err, &cf):
					other = err
				}
			})
		}
		close(starts)
		wg.Wait()
		if other != nil {
			t.Fatalf("round %d: %v", r, other)
		}
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		got := "?"
		if v, ok := out.Item["n"].(*ddbtypes.AttributeValueMemberN); ok {
			got = v.Value
		}
		if wins != 1 || got != "1" {
			broken = append(broken, fmt.Sprintf("round %d: %d of %d writers won, n = %s", r, wins, writers, got))
		}
	}
	if len(broken) > 0 {
		t.Errorf("conditional UpdateItem not atomic in %d of %d rounds, want exactly one winner each: %q", len(broken), rounds, broken)
	}
}
