package ddbexpr

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Recorder is a DynamoDB client for a store's tests that keeps every
// request it is given and stores nothing: it answers reads with Item (nil:
// no item), and writes as done or, with Refuse, as refused by their
// condition, so a store tries each form of its writes. Problems checks
// every request it kept. It is safe for concurrent use.
type Recorder struct {
	Item   map[string]ddbtypes.AttributeValue
	Refuse bool

	mu       sync.Mutex
	requests []any
}

func (r *Recorder) keep(in any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, in)
}

func (r *Recorder) refused() error {
	if !r.Refuse {
		return nil
	}
	return &ddbtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
}

// Requests returns the requests kept, in order.
func (r *Recorder) Requests() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.requests...)
}

// Problems is Problems of every request kept.
func (r *Recorder) Problems() []string {
	var out []string
	for _, in := range r.Requests() {
		out = append(out, Problems(in)...)
	}
	return out
}

func (r *Recorder) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.keep(in)
	return &dynamodb.GetItemOutput{Item: r.Item}, nil
}

func (r *Recorder) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.keep(in)
	if err := r.refused(); err != nil {
		return nil, err
	}
	return &dynamodb.PutItemOutput{}, nil
}

func (r *Recorder) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.keep(in)
	if err := r.refused(); err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemOutput{Attributes: map[string]ddbtypes.AttributeValue{}}, nil
}

func (r *Recorder) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	r.keep(in)
	if err := r.refused(); err != nil {
		return nil, err
	}
	return &dynamodb.DeleteItemOutput{}, nil
}

func (r *Recorder) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	r.keep(in)
	if r.Refuse {
		reasons := make([]ddbtypes.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("ConditionalCheckFailed")
		}
		return nil, &ddbtypes.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}
